// DM notices for a dm whose two participants are one user (docs/protocol.md "Conversations": the
// inbox stores a given (dm channel, seq) once per user). Clients cannot publish to dm:alice:alice
// (channel_rules.cpp: a < b), but the app can, and Hub::stageDmNotices (hub_conversations.cpp)
// iterates both participants of dmParticipants without comparing them: two notices of one message.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { Cluster } from './harness.mjs';

describe('dm notices of a self dm', () => {
  const cluster = new Cluster();
  after(() => cluster.stop());

  test('an app publish to dm:alice:alice stores one notice in user:alice', async () => {
    await cluster.startHub();
    const pub = await cluster.appRequest({ op: 'pub', ch: 'dm:alice:alice', from: 'alice', data: 'note', cid: 's1' });
    assert.equal(pub.ok, true, JSON.stringify(pub));
    const hist = await cluster.appRequest({ op: 'hist', ch: 'user:alice', after: 0, limit: 10 });
    assert.equal(hist.ok, true, JSON.stringify(hist));
    assert.deepEqual(hist.msgs.map((m) => m.notice), [{ ch: 'dm:alice:alice', seq: 1 }], JSON.stringify(hist.msgs));
  });
});
