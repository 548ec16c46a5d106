# Maps the compute hosts in COMPUTE_HOSTS (the inventory's) into cell1 once their nova-compute
# registered (a few seconds after it connects to rabbitmq): nova-manage cell_v2 discover_hosts
# until every one of them is mapped, in one Python process (each nova-manage run imports nova for
# 3-5 s on a small host).
import os
import sys
import time

# First, as in nova-manage: importing nova.cmd monkey-patches for eventlet before anything else loads.
from nova.cmd import manage  # noqa: I100
from nova import config, context, objects
from oslo_log import log as logging

config.parse_args(['nova-manage'])
logging.setup(manage.CONF, 'nova')
objects.register_all()

wanted = os.environ['COMPUTE_HOSTS'].split()
cells = manage.CellV2Commands()
ctxt = context.get_admin_context()
for attempt in range(40):
    # Exit 2: nova-scheduler's own periodic discovery (discover_hosts_in_cells_interval) mapped a
    # host at the same moment; any failure is tried again, as the mapping decides.
    try:
        rc = cells.discover_hosts(verbose=True)
        if rc not in (None, 0):
            print('nova-manage cell_v2 discover_hosts exited %s (the mappings decide)' % rc, file=sys.stderr)
    except Exception as e:
        print('nova-manage cell_v2 discover_hosts failed: %s (the mappings decide)' % e, file=sys.stderr)
    mapped = {m.host: m.cell_mapping.name for m in objects.HostMappingList.get_all(ctxt)}
    missing = [h for h in wanted if h not in mapped]
    if not missing:
        sys.exit(0)
    time.sleep(3)
print('compute hosts not registered in cell1: %s; mapped: %s' % (' '.join(missing), ', '.join('%s (%s)' % kv for kv in sorted(mapped.items())) or 'none'), file=sys.stderr)
sys.exit(1)
