# Build-time fix of neutron's linuxbridge ARP/MAC spoofing protection for ebtables-nft (the only
# ebtables this kernel has: no legacy ebtables nat table). Re-installing a port's MAC rules deletes
# the old `--among-src` rule by its listed text, which ebtables-nft cannot match (exit 4), and
# neutron retries exit 4 for ever (it means "locked" to legacy ebtables): after an agent restart
# or a port update with a VM on the host, the agent stops wiring ports, and routers and new VMs
# lose their network. Here the port's MAC chain is flushed and its closing DROP put back instead;
# the RETURN rules follow at once, as before. The build fails if neutron's code is not the one
# this replaces (a newer neutron must be looked at again).
import sys

path = sys.argv[1]
old = '''def _delete_vif_mac_rules(vif, current_rules):
    chain = _mac_chain_name(vif)
    for rule in current_rules:
        if '-i %s' % vif in rule and '--among-src' in rule:
            ebtables(['-D', chain] + rule.split())
'''
new = '''def _delete_vif_mac_rules(vif, current_rules):
    # osctl (images/neutron-agents/arp-protect-nft.py): flush, not -D, under ebtables-nft.
    chain = _mac_chain_name(vif)
    if any('-i %s' % vif in rule and '--among-src' in rule for rule in current_rules):
        ebtables(['-F', chain])
        ebtables(['-A', chain, '-j', 'DROP'])
'''
text = open(path).read()
if text.count(old) != 1:
    sys.exit(f'arp-protect-nft.py: {path} does not have the code this fix replaces')
open(path, 'w').write(text.replace(old, new))
