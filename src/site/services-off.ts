/**
 * Services a setting turns off: nova-libvirt exists only for nova_compute_driver libvirt. They are
 * left out of the default enabled_services, dependencies on them are dropped, and `osctl deploy`
 * refuses them when osctl.yml lists them anyway (catalog/plan.ts).
 */
export function servicesOffFor(novaComputeDriver: 'libvirt' | 'fake'): string[] {
  return novaComputeDriver === 'fake' ? ['nova-libvirt'] : []
}
