// The topic fan-out on the local Redis Cluster, where the subscriber queues live in other slots
// than the topic: messages go through the topic's outbox. 5,000 messages to three queues, the
// first 1,500 from a publisher process killed (SIGKILL) after 1,000 of them resolved, so what it
// left in the outbox is delivered by another open topic; one queue's workers down meanwhile.
import { afterEach, beforeEach, it } from 'vitest';
import { Scope } from '../support/behaviour.js';
import { fanOutExactlyOnce } from '../support/topic-processes.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('fanout-cluster');
});
afterEach(async () => {
  await s.dispose();
});

it('5,000 messages to three subscriber queues in other slots: each exactly once in each, with a publisher killed mid-way', () =>
  fanOutExactlyOnce({ url: s.url, admin: s.admin, name: s.name, messages: 5000, killedPublisher: { count: 1500, killAfter: 1000 } }), 180_000);
