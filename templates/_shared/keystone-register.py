# Registers a service in keystone, idempotently (check, then create or fix): the service user with
# the admin role in project service, the catalog entry and its three endpoints. Everything comes
# from the environment the step sets; the password from passwords.yml always wins.
import os
import sys
import time

from keystoneauth1 import exceptions, session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client

env = os.environ
auth = v3.Password(auth_url=env['OS_AUTH_URL'], username='admin', password=env['OS_PASSWORD'], project_name='admin', user_domain_id='default', project_domain_id='default')
ks = client.Client(session=session.Session(auth=auth), endpoint_override=env['OS_AUTH_URL'], interface='internal')
region, name, kind, url = env['OS_REGION_NAME'], env['SERVICE_NAME'], env['SERVICE_TYPE'], env['SERVICE_URL']


def first(items):
    return items[0] if items else None


def register():
    project = first(ks.projects.list(name='service', domain='default')) or ks.projects.create('service', 'default', description='OpenStack services')
    user = first(ks.users.list(name=env['SERVICE_USER'], domain='default'))
    if user:
        ks.users.update(user, password=env['SERVICE_PASSWORD'])
    else:
        user = ks.users.create(env['SERVICE_USER'], domain='default', password=env['SERVICE_PASSWORD'], default_project=project)
    ks.roles.grant(first(ks.roles.list(name='admin')), user=user, project=project)
    service = first(ks.services.list(type=kind)) or ks.services.create(name, type=kind, description=f'OpenStack {kind}')
    for interface in ('public', 'internal', 'admin'):
        found = first(ks.endpoints.list(service=service, interface=interface, region=region))
        if not found:
            ks.endpoints.create(service, url, interface=interface, region=region)
        elif found.url != url:
            ks.endpoints.update(found, url=url)
    print(f'{name}: user {user.name}, service {kind}, endpoints {url}', file=sys.stderr)


# uwsgi may drop a kept-alive connection between requests (keystone's http-socket): the whole
# registration is idempotent, so it simply starts over.
for attempt in range(1, 6):
    try:
        register()
        break
    except (exceptions.ConnectFailure, exceptions.ServiceUnavailable) as e:
        if attempt == 5:
            raise
        print(f'keystone: {e}; retrying', file=sys.stderr)
        time.sleep(2)
