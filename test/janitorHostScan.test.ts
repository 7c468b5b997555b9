import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gamedayChains, gamedayRoots, gamedayStress } from '../activities/janitor/hostFaults';

// What the janitor reads on a host, captured from this machine's real tools (iptables v1.8.9 nf_tables, tc of
// iproute2 6.1, pgrep of procps-ng 4.0.2) in a network namespace of its own. The sweep itself runs them for
// real in janitor.test.ts.
const iptablesS = `-P INPUT ACCEPT
-P FORWARD ACCEPT
-P OUTPUT ACCEPT
-N GD-ab12cd34-000000-O
-N GD-ab12cd34-378bfc-I
-A INPUT -m comment --comment "gameday:ab12cd34:cut" -j GD-ab12cd34-378bfc-I
-A GD-ab12cd34-378bfc-I -p tcp -m tcp --dport 9 -m comment --comment "gameday:ab12cd34:cut" -j DROP
`;
const tcJson =
  '[{"kind":"noqueue","handle":"0:","dev":"lo","root":true,"refcnt":2,"options":{}},' +
  '{"kind":"tbf","handle":"7a6d:","dev":"v0","root":true,"refcnt":3,"options":{"rate":125000,"burst":4096,"lat":400000}},' +
  '{"kind":"tbf","handle":"8001:","dev":"v1","root":true,"refcnt":3,"options":{}}]';
const pgrepA = `8495 stress-ng --temp-path /tmp/.gameday-ab12cd34-stress-378bfc --timeout 5s --cpu 1 --cpu-load 5
8501 stress-ng --temp-path /data/.gameday-ab12cd34-stress-378bfc --timeout 5s --hdd 1
8600 stress-ng --temp-path /tmp/someone-elses --timeout 5s --cpu 1
`;

describe('janitor host scan, parsing captured real output of iptables -S, tc -j and pgrep -a', () => {
  it("names a gameday chain's run and fault from its comment; an empty chain without a jump is only listed", () => {
    const found = gamedayChains(iptablesS);
    assert.deepEqual(
      found.map((f) => [f.tag, f.what, f.leftover]),
      [
        [
          'ab12cd34',
          'iptables chain GD-ab12cd34-000000-O (OUTPUT) with 0 rule(s) and no jump to it',
          undefined,
        ],
        [
          'ab12cd34',
          'iptables chain GD-ab12cd34-378bfc-I (fault cut, INPUT) with 1 rule(s)',
          { type: 'iptables-chain', tag: 'ab12cd34', fault: 'cut', hook: 'INPUT' },
        ],
      ],
    );
    assert.deepEqual(gamedayChains('-P INPUT ACCEPT\n-N DOCKER\n-N GD-not-a-tag\n'), []);
  });

  it("finds only root qdiscs with gameday's handle, on any interface", () => {
    assert.deepEqual(gamedayRoots(tcJson), [
      { what: 'root qdisc tbf 7a6d: on v0', leftover: { type: 'tc-root', iface: 'v0' } },
    ]);
    assert.throws(() => gamedayRoots('Error: something'), 'output it cannot read is an error, not "clean"');
    assert.deepEqual(
      gamedayRoots('[{"kind":"tbf","handle":"7a6d:","dev":"we ird;x","root":true}]'),
      [{ what: 'root qdisc tbf 7a6d: on we ird;x' }],
      'an interface name outside the plan rule is listed for a person, never sent back to the host',
    );
  });

  it('finds the stress-ng of gameday stress faults by their tagged directory, and no other', () => {
    const found = gamedayStress(pgrepA);
    assert.deepEqual(
      found.map((f) => [f.tag, f.leftover?.type === 'stress' ? f.leftover.dir : '']),
      [
        ['ab12cd34', '/tmp/.gameday-ab12cd34-stress-378bfc'],
        ['ab12cd34', '/data/.gameday-ab12cd34-stress-378bfc'],
      ],
    );
    assert.equal(found[0]?.what, 'stress-ng pid 8495 (--timeout 5s --cpu 1 --cpu-load 5)');
  });
});
