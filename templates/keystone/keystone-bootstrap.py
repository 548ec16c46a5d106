# keystone's two database steps in one Python process: `keystone-manage db_sync` (every migration
# to the latest), then `keystone-manage bootstrap` with this script's arguments (the admin user,
# project and roles, the identity service and its endpoints; the password from
# OS_BOOTSTRAP_PASSWORD). Kolla runs them as two keystone-manage processes, each importing keystone
# for 3-5 s on a small host, and keystone's chain is the longest of a first deploy.
import sys

from keystone.cmd import cli
from keystone.common.sql import upgrades


def sync_then_bootstrap(cls):
    # What DbSync.main does for a plain `db_sync`, then what BootStrap.main does.
    upgrades.offline_sync_database_to_version(None)
    cls().do_bootstrap()


cli.BootStrap.main = classmethod(sync_then_bootstrap)
cli.main(argv=['keystone-manage', 'bootstrap'] + sys.argv[1:])
