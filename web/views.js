// The lists: recordings as bubbles (a waveform to play and scrub, duration, date, actions),
// public clips and "my clips" as paged feeds that load older items as they scroll into view,
// and conversations: messages grouped by the other person, oldest at the top.
import { playerControls, release, formatTime } from './player.js';

const dates = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

function button(text, onClick, className) {
  const made = element('button', className, text);
  made.type = 'button';
  made.addEventListener('click', onClick);
  return made;
}

/** A button that asks again in place before it does anything for good. */
function confirmingButton(text, question, confirmText, onConfirm) {
  const wrap = element('span', 'confirming');
  const first = button(text, () => {
    first.hidden = true;
    ask.hidden = false;
    yes.focus();
  });
  const ask = element('span', 'ask');
  ask.hidden = true;
  const yes = button(confirmText, () => {
    yes.disabled = true;
    onConfirm();
  }, 'danger');
  const no = button('Keep', () => {
    ask.hidden = true;
    first.hidden = false;
    first.focus();
  });
  ask.append(element('span', 'question', question), yes, no);
  wrap.append(first, ask);
  return wrap;
}

/**
 * A recording as a bubble. `options`: { mine, heading, meta, replyTo (text), actions: [elements],
 * loadWaveform() }.
 */
export function bubble(item, options) {
  const made = element('li', `bubble ${options.mine ? 'mine' : 'theirs'}`);
  made.dataset.id = String(item.id);
  if (options.replyTo) made.append(element('p', 'reply-to', options.replyTo));
  made.append(element('h3', 'title', options.heading));
  playerControls(made, item, options.heading, options.loadWaveform);
  const meta = element('p', 'meta');
  meta.append(element('span', 'mark'));
  const when = element('time', '', dates.format(new Date(options.date)));
  when.dateTime = options.date;
  meta.append(when, document.createTextNode(options.meta ? ` · ${options.meta}` : ''));
  made.append(meta);
  const actions = element('div', 'actions');
  actions.append(...options.actions);
  made.append(actions);
  return made;
}

/** Keeps `list` in `items`' order, making each new id's element with `make`, updating with `update`. */
export function reconcile(list, items, make, update) {
  const existing = new Map([...list.children].filter((child) => child.dataset.id).map((child) => [child.dataset.id, child]));
  const wanted = items.map((item) => {
    const made = existing.get(String(item.id)) ?? make(item);
    update?.(made, item);
    return made;
  });
  const keep = new Set(wanted);
  for (const child of existing.values()) {
    if (keep.has(child)) continue;
    release(child);
    child.remove();
  }
  wanted.forEach((made, index) => {
    if (list.children[index] !== made) list.insertBefore(made, list.children[index] ?? null);
  });
}

/**
 * A feed of clips, newest first, `pageItems` at a time: the next page loads when the end of
 * the list comes into view (the app watches it) or its "Load more" button is used, until a
 * short page says there is no more. Later pages are asked with max_time fixed by the first,
 * so new clips do not shift them; refresh() puts new ones on top.
 */
export class ClipFeed {
  constructor({ list, more, end, fetchPage, render, pageItems }) {
    Object.assign(this, { list, more, end, fetchPage, render, pageItems });
    this.items = [];
    this.page = 0;
    this.done = false;
    this.loading = null;
    this.maxTime = null;
    more.addEventListener('click', () => void this.loadMore());
  }

  reset() {
    this.items = [];
    this.page = 0;
    this.done = false;
    this.maxTime = null;
    this.show();
  }

  show() {
    this.render(this.list, this.items);
    this.more.hidden = this.done;
    this.end.textContent = this.done ? (this.items.length ? `That is all: ${this.items.length} in total.` : 'Nothing yet.') : '';
    this.list.setAttribute('aria-busy', String(this.loading !== null));
    // Hidden while a page loads, shown again below it: an element that appears does not shift.
    this.more.parentElement.classList.toggle('loading', this.loading !== null);
  }

  loadMore() {
    if (this.done) return Promise.resolve();
    this.loading ??= (async () => {
      try {
        const page = await this.fetchPage({ page: this.page + 1, items: this.pageItems, ...(this.maxTime ? { maxTime: this.maxTime } : {}) });
        // Later pages end where the first began (max_time counts whole seconds: rounded up), so new clips do not shift them.
        if (this.page === 0 && page[0]) this.maxTime = new Date(Math.ceil(Date.parse(page[0].uploaded_at) / 1000) * 1000);
        this.page += 1;
        const known = new Set(this.items.map((item) => item.id));
        this.items.push(...page.filter((item) => !known.has(item.id)));
        if (page.length < this.pageItems) this.done = true;
      } finally {
        this.loading = null;
        this.show();
      }
    })();
    this.show();
    return this.loading;
  }

  /** New clips on top; edits and deletions of what the first page holds. */
  async refresh() {
    if (this.page === 0) return this.loadMore();
    const first = await this.fetchPage({ page: 1, items: this.pageItems });
    const known = new Map(this.items.map((item) => [item.id, item]));
    const fresh = first.filter((item) => !known.has(item.id));
    this.items = [...fresh, ...this.items.map((item) => first.find((f) => f.id === item.id) ?? item)];
    this.show();
  }

  remove(id) {
    this.items = this.items.filter((item) => item.id !== id);
    this.show();
  }

  replace(updated) {
    this.items = this.items.map((item) => (item.id === updated.id ? updated : item));
    this.show();
  }
}

/** A clip's bubble; `own` clips can have their title edited and be deleted. */
export function clipBubble(clip, { own, loadWaveform, onDelete, onRename }) {
  const actions = [];
  if (own) {
    actions.push(button('Edit title', () => openRename(made, clip, onRename)));
    actions.push(confirmingButton('Delete', `Delete “${clip.title}” for good?`, 'Delete clip', () => onDelete(clip)));
  }
  const made = bubble(clip, {
    mine: own,
    heading: clip.title,
    date: clip.uploaded_at,
    meta: own ? undefined : clip.user.username,
    actions,
    loadWaveform,
  });
  made.classList.add('clip');
  return made;
}

function openRename(made, clip, onRename) {
  if (made.querySelector('form.rename')) return;
  const form = element('form', 'rename');
  const id = `rename-${clip.id}`;
  const label = element('label', '', 'New title');
  label.htmlFor = id;
  const input = element('input');
  input.id = id;
  input.required = true;
  input.value = clip.title;
  const save = element('button', '', 'Save title');
  save.type = 'submit';
  const cancel = button('Cancel', () => {
    form.remove();
    made.querySelector('.actions button').focus();
  });
  const status = element('p', 'status');
  status.setAttribute('role', 'status');
  form.append(label, input, save, cancel, status);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    save.disabled = true;
    onRename(clip, input.value.trim()).then(
      () => form.remove(),
      (error) => {
        save.disabled = false;
        status.textContent = error.message;
      },
    );
  });
  made.querySelector('.actions').after(form);
  input.focus();
  input.select();
}

// --- conversations

/**
 * The signed-in user's messages, from the inbox and the outbox merged, grouped by the other
 * person. Older pages of both load on demand (a conversation's "Load older", the end of the
 * list of conversations) until both are exhausted.
 */
export class Conversations {
  constructor(client, me, pageItems) {
    Object.assign(this, { client, me, pageItems });
    this.messages = new Map();
    this.pages = { inbox: 0, outbox: 0 };
    this.done = { inbox: false, outbox: false };
    this.maxTime = new Date();
    this.loading = null;
  }

  get exhausted() {
    return this.done.inbox && this.done.outbox;
  }

  other(message) {
    return message.sender.id === this.me.id ? message.recipient : message.sender;
  }

  add(messages) {
    for (const message of messages) this.messages.set(message.id, message);
  }

  /** The next page of the inbox and of the outbox (of those not exhausted). */
  loadOlder() {
    this.loading ??= (async () => {
      try {
        await Promise.all(
          ['inbox', 'outbox'].map(async (box) => {
            if (this.done[box]) return;
            const page = await this.client[box]({ page: this.pages[box] + 1, items: this.pageItems, maxTime: this.maxTime });
            this.pages[box] += 1;
            if (page.length < this.pageItems) this.done[box] = true;
            this.add(page);
          }),
        );
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  /** What is new at the top of both boxes (and the played state of what is there). */
  async refresh() {
    if (this.pages.inbox === 0 && this.pages.outbox === 0) return this.loadOlder();
    const [inbox, outbox] = await Promise.all([this.client.inbox({ items: this.pageItems }), this.client.outbox({ items: this.pageItems })]);
    this.add([...inbox, ...outbox]);
  }

  remove(id) {
    this.messages.delete(id);
  }

  /** Without the messages of `userId` (blocked). */
  forget(userId) {
    for (const [id, message] of this.messages) if (this.other(message).id === userId) this.messages.delete(id);
  }

  /** People, the latest conversation first: { user, latest, unread, messages (oldest first) }. */
  people() {
    const byPerson = new Map();
    const sorted = [...this.messages.values()].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id - b.id);
    for (const message of sorted) {
      const user = this.other(message);
      const entry = byPerson.get(user.id) ?? { id: user.id, user, messages: [], unread: 0 };
      entry.messages.push(message);
      entry.latest = message;
      if (message.recipient.id === this.me.id && !message.played) entry.unread += 1;
      byPerson.set(user.id, entry);
    }
    return [...byPerson.values()].sort((a, b) => b.latest.created_at.localeCompare(a.latest.created_at));
  }

  with(username) {
    return this.people().find((person) => person.user.username.toLowerCase() === username.toLowerCase()) ?? null;
  }
}

/** A row of the conversations list: a link to the conversation, with the latest message and the unread count. */
export function personRow(person) {
  const row = element('li', 'person');
  row.dataset.id = String(person.id);
  const link = element('a');
  link.href = `#/messages/${encodeURIComponent(person.user.username)}`;
  row.append(link);
  updatePersonRow(row, person);
  return row;
}

export function updatePersonRow(row, person) {
  const link = row.querySelector('a');
  const latest = person.latest;
  const fromMe = latest.sender.id !== person.user.id;
  const what = `${fromMe ? 'You: ' : ''}${latest.title || 'Voice message'} (${formatTime(latest.duration ?? 0)})`;
  link.replaceChildren(element('strong', 'name', person.user.username), element('span', 'latest', what), element('time', 'when', dates.format(new Date(latest.created_at))));
  if (person.unread > 0) {
    const count = element('span', 'count', String(person.unread));
    count.setAttribute('aria-label', `${person.unread} unplayed`);
    link.append(count);
  }
  row.classList.toggle('unread', person.unread > 0);
}

/** A message's bubble in its conversation. */
export function messageBubble(message, { me, parent, loadWaveform, onReply, onDelete }) {
  const mine = message.sender.id === me.id;
  const heading = message.title || (mine ? 'Voice message from you' : `Voice message from ${message.sender.username}`);
  const replyTo = message.parent_id ? `Reply to “${parent ? parent.title || 'a voice message' : 'an older message'}”` : undefined;
  const made = bubble(message, {
    mine,
    heading,
    date: message.created_at,
    replyTo,
    actions: [button('Reply', () => onReply(message)), confirmingButton('Delete', 'Delete this message from your conversation?', 'Delete message', () => onDelete(message))],
    loadWaveform,
  });
  made.classList.add('message');
  setPlayed(made, message, me);
  return made;
}

/** Unplayed messages to me say "New"; mine say whether they were heard. */
export function setPlayed(made, message, me) {
  const toMe = message.recipient.id === me.id;
  const mark = made.querySelector('.mark');
  made.dataset.played = String(Boolean(message.played));
  made.classList.toggle('unplayed', toMe && !message.played);
  if (toMe) {
    mark.textContent = message.played ? '' : 'New';
    if (message.played) mark.removeAttribute('aria-label');
    else mark.setAttribute('aria-label', 'unplayed');
  } else {
    mark.textContent = message.played ? 'Heard' : 'Sent';
    mark.className = `mark ${message.played ? 'heard' : 'sent'}`;
  }
}
