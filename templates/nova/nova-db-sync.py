# nova's database steps in one Python process, each call nova-manage's own command with its exit
# codes (kolla runs them as five nova-manage processes, each importing nova for 3-5 s on a small
# host): the API database, cell0's mapping, cell1 created or kept in step with nova.conf, then
# the cell databases (db sync migrates cell1's and cell0's).
import sys

# First, as in nova-manage: importing nova.cmd monkey-patches for eventlet before anything else loads.
from nova.cmd import manage  # noqa: I100
from nova import config, context, objects
from oslo_log import log as logging

config.parse_args(['nova-manage'])
logging.setup(manage.CONF, 'nova')
objects.register_all()


def run(what, rc):
    if rc not in (None, 0):
        print('nova-manage %s failed (exit %s)' % (what, rc), file=sys.stderr)
        sys.exit(rc if isinstance(rc, int) else 1)


run('api_db sync', manage.ApiDbCommands().sync())
cells = manage.CellV2Commands()
run('cell_v2 map_cell0', cells.map_cell0())
cell1 = [c for c in objects.CellMappingList.get_all(context.get_admin_context()) if c.name == 'cell1']
if cell1:
    run('cell_v2 update_cell', cells.update_cell(cell_uuid=cell1[0].uuid))
else:
    run('cell_v2 create_cell', cells.create_cell(name='cell1', verbose=True))
run('db sync', manage.DbCommands().sync())
