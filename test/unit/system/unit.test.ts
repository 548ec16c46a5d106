import {describe, expect, it} from 'vitest'

import {parseUnitMarker, renderSystemUnit, reslotUnit} from '../../../src/system/unit.js'

describe('system container unit', () => {
  const text = renderSystemUnit({name: 'etcd', description: 'etcd store', revision: 7, slot: 1, bundle: '/var/lib/osctl/system/etcd/slot-1/bundle', dataDirs: ['/var/lib/osctl/data/etcd']})

  it('orders itself before Docker and runs runc on the slot bundle', () => {
    expect(text).toMatch(/^Before=docker\.service$/m)
    expect(text).toMatch(/^ExecStart=\/usr\/sbin\/runc run --bundle \/var\/lib\/osctl\/system\/etcd\/slot-1\/bundle osctl-etcd$/m)
    expect(text).toMatch(/^ExecStopPost=-\/usr\/sbin\/runc delete --force osctl-etcd$/m)
    expect(text).toMatch(/^ExecStartPre=\/bin\/mkdir -p \/var\/lib\/osctl\/data\/etcd$/m)
    expect(text).toMatch(/^Restart=on-failure$/m)
    expect(text).toMatch(/^WantedBy=multi-user\.target$/m)
  })

  it('carries a marker osctl can read back', () => {
    expect(parseUnitMarker(text)).toEqual({name: 'etcd', revision: 7, slot: 1})
    expect(parseUnitMarker('[Unit]\nDescription=not ours\n')).toBeUndefined()
  })

  it('moves a recorded unit to the other slot: exactly what rendering it for that slot gives', () => {
    const slot0 = renderSystemUnit({name: 'etcd', description: 'etcd store', revision: 7, slot: 0, bundle: '/var/lib/osctl/system/etcd/slot-0/bundle', dataDirs: ['/var/lib/osctl/data/etcd']})
    const moved = reslotUnit(text, {from: '/var/lib/osctl/system/etcd/slot-1/bundle', to: '/var/lib/osctl/system/etcd/slot-0/bundle'}, {from: 1, to: 0})
    expect(moved).toBe(slot0)
    expect(parseUnitMarker(moved)).toEqual({name: 'etcd', revision: 7, slot: 0})
    expect(reslotUnit(text, {from: 'x', to: 'y'}, {from: 1, to: 1})).toBe(text)
  })
})
