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
# OS_CACERT: the site CA when the APIs speak TLS (empty: the system's trust store).
ks = client.Client(session=session.Session(auth=auth, verify=env.get('OS_CACERT') or True), endpoint_override=env['OS_AUTH_URL'], interface='internal')
region, name, kind = env['OS_REGION_NAME'], env['SERVICE_NAME'], env['SERVICE_TYPE']
# The public endpoint may sit on external_vip (SERVICE_PUBLIC_URL); internal and admin on internal_vip.
urls = {'public': env.get('SERVICE_PUBLIC_URL') or env['SERVICE_URL'], 'internal': env['SERVICE_URL'], 'admin': env['SERVICE_URL']}


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
    for interface, url in urls.items():
        found = first(ks.endpoints.list(service=service, interface=interface, region=region))
        if not found:
            ks.endpoints.create(service, url, interface=interface, region=region)
        elif found.url != url:
            ks.endpoints.update(found, url=url)
    print(f'{name}: user {user.name}, service {kind}, endpoints {urls}', file=sys.stderr)


# uwsgi may drop a kept-alive connection between requests (keystone's http-socket), and services
# registering at once (deploy runs glance's and placement's side by side) race to create the
# service project: 409. The whole registration is idempotent, so it simply starts over.
for attempt in range(1, 6):
    try:
        register()
        break
    except (exceptions.ConnectFailure, exceptions.ServiceUnavailable, exceptions.Conflict) as e:
        if attempt == 5:
            raise
        print(f'keystone: {e}; retrying', file=sys.stderr)
        time.sleep(0.5 if isinstance(e, exceptions.Conflict) else 2)
