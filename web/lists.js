// Lists of clips and messages, each with an <audio> player. Items are kept by id across
// refreshes, so a player that is playing is never replaced under the listener.

function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined) return '';
  const whole = Math.round(seconds * 10) / 10;
  return whole < 60 ? `${whole.toFixed(1)} s` : `${Math.floor(whole / 60)} min ${Math.round(whole % 60)} s`;
}

/** Brings `list` to exactly `items` in order, making an element for each new id with `make`. */
function reconcile(list, items, make, update) {
  const existing = new Map([...list.children].map((element) => [element.dataset.id, element]));
  const wanted = items.map((item) => {
    const element = existing.get(String(item.id)) ?? make(item);
    update?.(element, item);
    return element;
  });
  for (const [id, element] of existing) if (!items.some((item) => String(item.id) === id)) element.remove();
  wanted.forEach((element, index) => {
    if (list.children[index] !== element) list.insertBefore(element, list.children[index] ?? null);
  });
}

function itemShell(id, title, meta) {
  const item = document.createElement('li');
  item.dataset.id = String(id);
  const heading = document.createElement('h3');
  heading.className = 'title';
  heading.textContent = title;
  const details = document.createElement('p');
  details.className = 'meta';
  details.textContent = meta;
  item.append(heading, details);
  return item;
}

function player(label) {
  const audio = document.createElement('audio');
  audio.controls = true;
  audio.preload = 'metadata';
  audio.setAttribute('aria-label', label);
  return audio;
}

export function renderClips(list, clips) {
  reconcile(list, clips, (clip) => {
    const item = itemShell(clip.id, clip.title, `${formatSeconds(clip.duration)} · ${clip.user.username}`);
    const audio = player(`Play ${clip.title}`);
    audio.src = clip.urls.audio;
    item.append(audio);
    item.dataset.duration = String(clip.duration ?? '');
    return item;
  });
}

/**
 * Messages need the token to be fetched, so they play from a blob: URL, fetched on first use.
 * Each has a button that blocks its sender (`onBlock(sender)`).
 */
export function renderInbox(list, messages, client, onBlock) {
  reconcile(
    list,
    messages,
    (message) => {
      const title = message.title || 'Untitled message';
      const item = itemShell(message.id, title, `${formatSeconds(message.duration)} · from ${message.sender.username}`);
      const mark = document.createElement('span');
      mark.className = 'mark';
      item.querySelector('h3').prepend(mark);
      const audio = player(`Play ${title}`);
      item.dataset.duration = String(message.duration ?? '');
      const blockButton = document.createElement('button');
      blockButton.type = 'button';
      blockButton.textContent = `Block ${message.sender.username}`;
      blockButton.addEventListener('click', () => {
        blockButton.disabled = true;
        onBlock(message.sender);
      });
      item.append(audio, blockButton);
      const load = async () => {
        if (audio.src) return;
        const response = await client.download(message.urls.audio);
        audio.src = URL.createObjectURL(await response.blob());
      };
      void load().catch((error) => console.error(error));
      audio.addEventListener('play', () => {
        if (item.dataset.played === 'true') return;
        client.markPlayed(message.id).then(
          (updated) => setPlayed(item, updated.played),
          (error) => console.error(error),
        );
      });
      return item;
    },
    (item, message) => setPlayed(item, message.played),
  );
}

/** The users the signed-in user blocks, each with a button that unblocks them (`onUnblock(user)`). */
export function renderBlocked(list, blocks, onUnblock) {
  reconcile(
    list,
    blocks.map((block) => ({ ...block, id: block.user.id })),
    (block) => {
      const item = document.createElement('li');
      item.dataset.id = String(block.user.id);
      const name = document.createElement('span');
      name.textContent = `${block.user.username} `;
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = `Unblock ${block.user.username}`;
      button.addEventListener('click', () => {
        button.disabled = true;
        onUnblock(block.user);
      });
      item.append(name, button);
      return item;
    },
  );
}

function setPlayed(item, played) {
  item.dataset.played = String(Boolean(played));
  item.classList.toggle('unplayed', !played);
  const mark = item.querySelector('.mark');
  mark.textContent = played ? '' : 'New';
  if (played) mark.removeAttribute('aria-label');
  else mark.setAttribute('aria-label', 'unplayed');
}
