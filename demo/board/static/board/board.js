/**
 * The live board's behaviour (demo/board/templates/board/index.html).
 *
 * One prefix subscription to `board.item.` carries the Item model's
 * created / updated / deleted events (registered by the board app with
 * django_telegraphy.register_model). Picking a room re-subscribes with the
 * filter `room == "NAME"`: a "channel" that needs no set-up in the gateway.
 * The subscription is persistent: the gateway keeps it (and the board's
 * guaranteed events) while the tab is closed, so a board opened again gets
 * what it missed, in order, once (items are keyed by pk). A browser without
 * an identity (a page from another host name than the gateway's) falls
 * back to a live subscription and reloads the list after a reconnect.
 * The connection state is shown in #state, the event types come from
 * client.events(). Items that arrive by event are marked data-via="live".
 * @module board
 */

const TOPIC = "board.item.";
const MATCH = "prefix";
const MAX_ITEMS = 50; // as the server renders (views.PAGE_ITEMS)
const MAX_LOG = 15;

/**
 * Starts the board on this page.
 * @param {import("/static/telegraphy/telegraphy.js").TelegraphyClient} client from Telegraphy.fromPage()
 * @param {Document} [doc]
 */
export function startBoard(client, doc = document) {
  const $ = (id) => doc.getElementById(id);
  const stateEl = $("state");
  const list = $("items");
  const empty = $("empty");
  const select = $("room");
  const subEl = $("subscription");
  const form = $("new-item");
  const formError = $("form-error");
  const typesEl = $("event-types");
  const logEl = $("log");

  let current = null; // {room, handle, durable} of the subscription in use
  let opens = 0;

  // ------------------------------------------------------------ connection

  client.onstate((state) => {
    stateEl.textContent = state;
    stateEl.dataset.state = state;
    if (state !== "open") return;
    opens += 1;
    showEventTypes();
    // A persistent subscription replays what was published while this page
    // was away; a live one cannot: then reload the list after a reconnect.
    if (opens > 1 && !(current && current.durable)) loadItems(current ? current.room : select.value);
  });

  async function showEventTypes() {
    let types;
    try {
      types = await client.events();
    } catch (e) {
      return; // the session went away; the next `open` asks again
    }
    typesEl.replaceChildren();
    const mine = types.filter((t) => t.name.startsWith(TOPIC));
    const shown = mine.length ? mine : types;
    if (!shown.length) {
      typesEl.append(li("hint", "none yet: the demo registers them with its first event"));
      return;
    }
    for (const t of shown) {
      const row = li("", "");
      row.append(code(t.name), " ", span("fields", `${t.audience} · ${t.fields && t.fields.length ? `fields: ${t.fields.join(", ")}` : "any fields"}`));
      typesEl.append(row);
    }
  }

  // ------------------------------------------------------------ subscription

  function filterFor(room) {
    return room ? `room == ${JSON.stringify(room)}` : undefined;
  }

  async function follow(room) {
    const previous = current;
    current = { room, handle: null };
    const mine = current;
    subEl.dataset.status = "pending";
    subEl.textContent = describe(room) + " …";
    if (previous && previous.handle) client.unsubscribe(previous.handle).catch(() => {});
    try {
      // Events of a room this page has just left are ignored.
      const handler = (data, info) => current === mine && onEvent(data, info);
      const options = { match: MATCH, filter: filterFor(room) };
      let handle;
      try {
        // A gap (the gateway could not keep all that was missed): the list
        // is reloaded from the server, then the events continue.
        handle = await client.subscribe(TOPIC, handler, { ...options, persistent: true, ongap: () => loadItems(room) });
        mine.durable = true;
      } catch (e) {
        if (e.uri !== "telegraphy.error.identity_required") throw e;
        handle = await client.subscribe(TOPIC, handler, options);
      }
      if (current !== mine) {
        client.unsubscribe(handle).catch(() => {});
        return;
      }
      mine.handle = handle;
      subEl.dataset.status = "live";
      subEl.textContent = describe(room) + (mine.durable ? " (persistent)" : "");
    } catch (e) {
      if (current !== mine) return;
      subEl.dataset.status = "error";
      subEl.textContent = `${describe(room)}: ${e.uri || e.message}`;
    }
  }

  function describe(room) {
    const filter = filterFor(room);
    return `${TOPIC}* ${filter ? `where ${filter}` : "(every room)"}`;
  }

  function onEvent(data, info) {
    const kind = info.topic.slice(TOPIC.length);
    if (kind === "deleted") removeItem(data.pk);
    else upsertItem(data, "live");
    showEmpty();
    if (!typesEl.querySelector("code")) showEventTypes(); // the first event registered the types
    const row = li("", "");
    row.append(code(info.topic), " ", span("meta", `#${data.pk} ${data.title ?? ""} (${data.room ?? "?"})`));
    logEl.prepend(row);
    while (logEl.children.length > MAX_LOG) logEl.lastElementChild.remove();
  }

  // ------------------------------------------------------------ items

  async function loadItems(room) {
    const url = new URL(select.dataset.itemsUrl, doc.baseURI);
    if (room) url.searchParams.set("room", room);
    let body;
    try {
      const res = await fetch(url, { headers: { Accept: "application/json" } });
      if (!res.ok) return;
      body = await res.json();
    } catch (e) {
      return;
    }
    if (!current || current.room !== room) return; // switched again meanwhile
    const live = new Map([...list.children].map((el) => [el.dataset.id, el.dataset.via]));
    list.replaceChildren();
    for (const item of body.items) {
      // Keep the mark of items that did arrive by event.
      list.append(render(item, live.get(String(item.pk)) === "live" ? "live" : "page"));
    }
    showEmpty();
  }

  function upsertItem(item, via) {
    const el = render(item, via);
    const old = list.querySelector(`li[data-id="${CSS.escape(String(item.pk))}"]`);
    if (old) old.replaceWith(el);
    else list.prepend(el);
    while (list.children.length > MAX_ITEMS) list.lastElementChild.remove();
  }

  function removeItem(id) {
    const old = list.querySelector(`li[data-id="${CSS.escape(String(id))}"]`);
    if (old) old.remove();
  }

  function render(item, via) {
    const el = doc.createElement("li");
    el.className = "item";
    el.dataset.id = String(item.pk);
    el.dataset.room = item.room;
    el.dataset.via = via;
    const when = new Date(item.created);
    const time = doc.createElement("time");
    time.dateTime = item.created;
    time.textContent = Number.isNaN(when.getTime()) ? "" : when.toISOString().slice(11, 19);
    const roomName = select.querySelector(`option[value="${CSS.escape(item.room)}"]`);
    el.append(span("title", item.title), span(`room room-${item.room}`, roomName ? roomName.textContent : item.room), time);
    return el;
  }

  function showEmpty() {
    empty.hidden = list.children.length > 0;
  }

  // ------------------------------------------------------------ form

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    formError.hidden = true;
    try {
      const res = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (res.status === 201) {
        // The item itself arrives through the gateway, like everyone else's.
        form.elements.title.value = "";
        form.elements.title.focus();
      } else {
        const body = await res.json().catch(() => ({}));
        const errors = Object.entries(body.errors || {}).map(([k, v]) => `${k}: ${v.map((x) => x.message).join(" ")}`);
        showError(errors.join("; ") || `the server answered ${res.status}`);
      }
    } catch (err) {
      showError(`could not reach the server: ${err.message}`);
    } finally {
      button.disabled = false;
    }
  });

  function showError(text) {
    formError.textContent = text;
    formError.hidden = false;
  }

  // ------------------------------------------------------------ room selector

  select.addEventListener("change", () => {
    const room = select.value;
    const url = new URL(doc.location.href);
    if (room) url.searchParams.set("room", room);
    else url.searchParams.delete("room");
    history.replaceState(null, "", url);
    form.action = url.pathname + url.search;
    if (room) form.elements.room.value = room;
    follow(room);
    loadItems(room);
  });

  // ------------------------------------------------------------ helpers

  function li(cls, text) {
    const el = doc.createElement("li");
    if (cls) el.className = cls;
    if (text) el.textContent = text;
    return el;
  }
  function span(cls, text) {
    const el = doc.createElement("span");
    el.className = cls;
    el.textContent = text;
    return el;
  }
  function code(text) {
    const el = doc.createElement("code");
    el.textContent = text;
    return el;
  }

  follow(select.value);
  showEmpty();
}
