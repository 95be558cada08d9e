// tokend console: a small plain-JavaScript app on the JSON API. No framework
// and no build step: the browser loads these ES modules as they are.
//
// The DOM is built with createElement and textContent only. The
// Content-Security-Policy enforces Trusted Types, so a string can never be
// parsed as HTML (innerHTML would throw), and nothing the API returns — a
// token's name, a note — can become markup or script.
//
// Pages are chosen by the URL's fragment: #/signin, #/tokens, #/models and
// #/tokens/<id>/audit. The server serves one page at "/".

import { api, ApiError, session, seg } from './api.js';
import * as fmt from './format.js';

const $ = (id) => document.getElementById(id);

/**
 * Makes an element. props: "class", "text", "hidden", "dataset" (object),
 * "on" (event name -> listener); any other key is an attribute (false, null
 * and undefined leave it out). Children are nodes or strings (as text).
 */
function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'hidden') e.hidden = true;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'on') for (const [type, f] of Object.entries(v)) e.addEventListener(type, f);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) e.append(c);
  }
  return e;
}

// ---------------------------------------------------------------------------
// State

const state = {
  account: null, // {id, name} of the signed-in license
  models: [], // [{id, name}] by name
  modelNames: new Map(), // model id -> name
  tokens: new Map(), // id -> TokenView of the page shown
  list: {
    q: '',
    statuses: [],
    modelId: '',
    assigned: '',
    expiresBefore: null,
    sort: '-createdAt',
    limit: 25,
    cursors: [null], // cursors[i] opens page i (the API's cursors only go forward)
    page: 0,
    next: null,
  },
};

// ---------------------------------------------------------------------------
// Messages

let toastTimer = 0;

/**
 * Says msg in the status line at the bottom (a polite live region) or, while
 * a modal dialog with a status line of its own is open, in that one: the
 * page behind a modal dialog is inert, so its live region would go unread.
 */
function toast(msg) {
  const local = document.querySelector('dialog[open] .dialog-status');
  if (local) {
    local.textContent = msg;
    return;
  }
  const t = $('toast');
  t.textContent = msg;
  t.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove('show'), 6000);
}

/** Shows a failed call in the banner bannerId; a refused license signs out. */
function failed(e, bannerId) {
  if (e instanceof ApiError && e.status === 401) {
    signOut('Your license was not accepted. Sign in again.');
    return;
  }
  const b = $(bannerId);
  b.textContent = e.message;
  b.hidden = false;
}

// ---------------------------------------------------------------------------
// Dialogs: native <dialog>.showModal() keeps focus inside and makes the page
// behind inert; on close, focus goes back to what opened the dialog.

const openers = new Map(); // dialog -> {opener, tokenId}

function openDialog(dialog, opener, tokenId) {
  openers.set(dialog, { opener, tokenId });
  dialog.showModal();
}

/**
 * Focuses the opener again, or — when the table was redrawn meanwhile and
 * the opener is gone — the same token's menu button, or the page's heading.
 */
function restoreFocus(opener, tokenId) {
  let target = opener && opener.isConnected && !opener.closest('[hidden]') ? opener : null;
  if (!target && tokenId) target = document.querySelector(`[data-menu-for="${CSS.escape(tokenId)}"]`);
  if (!target) target = document.querySelector('.page:not([hidden]) h1');
  if (target) target.focus();
}

for (const d of document.querySelectorAll('dialog')) {
  d.addEventListener('close', () => {
    const o = openers.get(d) || {};
    openers.delete(d);
    restoreFocus(o.opener, o.tokenId);
  });
}
for (const b of document.querySelectorAll('.close-dialog')) {
  b.addEventListener('click', () => b.closest('dialog').close());
}

/** Asks to confirm a destructive action; resolves to true when confirmed. */
function confirmDialog({ title, text, ok, opener, tokenId }) {
  const d = $('confirm-dialog');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = ok;
  d.returnValue = '';
  openDialog(d, opener, tokenId);
  $('confirm-cancel').focus(); // the safe choice is the default
  return new Promise((resolve) => {
    d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
  });
}

// ---------------------------------------------------------------------------
// Form errors: the API's refusal appears next to the field it names.

// API field -> the suffix of its control's id ("edit-" + "expiration").
const FIELD_CONTROL = { name: 'name', note: 'note', expirationDate: 'expiration', status: 'status', modelId: 'model' };

function clearFormErrors(prefix) {
  const root = $(prefix + '-form');
  for (const p of root.querySelectorAll('.field-error')) {
    p.hidden = true;
    p.textContent = '';
  }
  for (const c of root.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
  const banner = $(prefix + '-error');
  if (banner) banner.hidden = true;
  if (prefix === 'edit') {
    $('edit-reload').hidden = true;
    $('edit-said').textContent = '';
  }
}

/** Shows msg under the control of field in form prefix and focuses it. */
function fieldError(prefix, field, msg) {
  const control = $(`${prefix}-${FIELD_CONTROL[field]}`);
  const p = $(`${prefix}-${FIELD_CONTROL[field]}-error`);
  p.textContent = msg;
  p.hidden = false;
  control.setAttribute('aria-invalid', 'true');
  if (!control.disabled) control.focus();
  else if (prefix === 'edit' && field === 'modelId') $('edit-unassign').focus();
}

/** Shows msg at the top of form prefix; reload adds the edit form's "Reload token". */
function formError(prefix, msg, reload = false) {
  const banner = $(prefix + '-error');
  if (prefix === 'edit') {
    $('edit-error-text').textContent = msg;
    $('edit-reload').hidden = !reload;
  } else {
    banner.textContent = msg;
  }
  banner.hidden = false; // role=alert: read out as it appears
  if (reload) $('edit-reload').focus();
}

/** Maps an API refusal of a form's request to where it belongs. */
function showFormError(prefix, e) {
  if (!(e instanceof ApiError)) throw e;
  if (e.status === 401) return failed(e, prefix + '-error');
  switch (e.code) {
    case 'already_assigned':
      return fieldError(prefix, 'modelId', 'This token already has a model: unassign first.');
    case 'version_conflict':
      return formError(prefix, 'This token was changed elsewhere since you opened it. Reload it to see its latest details, then make your changes again.', true);
    case 'token_canceled':
      return formError(prefix, 'This token is canceled: it can no longer be changed, only deleted.');
    case 'not_found':
      if (prefix === 'edit') return formError(prefix, 'This token no longer exists.');
      break;
    case 'invalid_argument':
      if (FIELD_CONTROL[e.field] && $(`${prefix}-${FIELD_CONTROL[e.field]}`)) return fieldError(prefix, e.field, e.detail);
      break;
  }
  return formError(prefix, e.message);
}

/** Disables a form's submit button while its request runs. */
async function busy(button, f) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await f();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

// ---------------------------------------------------------------------------
// Pages and routing

const PAGES = { signin: 'Sign in', tokens: 'Tokens', models: 'Models', audit: 'Audit trail' };

function showPage(name) {
  for (const p of Object.keys(PAGES)) $('page-' + p).hidden = p !== name;
  $('topbar').hidden = name === 'signin';
  document.title = PAGES[name] + ' · tokend console';
  const current = (link, on) => (on ? link.setAttribute('aria-current', 'page') : link.removeAttribute('aria-current'));
  current($('nav-tokens'), name === 'tokens' || name === 'audit');
  current($('nav-models'), name === 'models');
}

/** Shows the page the fragment names. focus: move focus to its heading. */
async function route(focus) {
  const hash = location.hash || '#/tokens';
  if (!hash.startsWith('#/')) return; // an in-page anchor, such as the skip link
  if (!session.license) {
    if (hash !== '#/signin') return location.replace('#/signin');
    showPage('signin');
    $('signin-license').focus();
    return;
  }
  if (hash === '#/signin') return location.replace('#/tokens');
  if (!state.account) {
    try {
      await loadSession();
    } catch (e) {
      return failed(e, 'tokens-error');
    }
  }
  const audit = /^#\/tokens\/([^/]+)\/audit$/.exec(hash);
  if (hash === '#/models') await showModels();
  else if (audit) await showAudit(decodeURIComponent(audit[1]));
  else await showTokens();
  if (focus) document.querySelector('.page:not([hidden]) h1').focus();
}

window.addEventListener('hashchange', () => route(true));

// ---------------------------------------------------------------------------
// Sign-in and sign-out

async function loadSession() {
  const { data } = await api('GET', '/v1/account');
  state.account = data;
  $('account-name').textContent = data.name;
  await loadModels();
}

$('signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('signin-license');
  const err = $('signin-license-error');
  err.hidden = true;
  input.removeAttribute('aria-invalid');
  const license = input.value.trim();
  const refuse = (msg) => {
    err.textContent = msg;
    err.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  };
  if (!/^lic_[0-9A-Za-z]{49}$/.test(license)) return refuse('A license is lic_ followed by 49 letters and digits.');
  await busy($('signin-submit'), async () => {
    try {
      // Check the license before keeping it: GET /v1/account answers 401 otherwise.
      const { data } = await api('GET', '/v1/account', { license });
      session.signIn(license);
      input.value = '';
      state.account = data;
      $('account-name').textContent = data.name;
      await loadModels();
      location.hash = '#/tokens';
    } catch (e) {
      refuse(e.status === 401 ? 'This license is not valid, or it was revoked.' : e.message);
    }
  });
});

function signOut(msg) {
  session.signOut();
  state.account = null;
  state.models = [];
  state.modelNames = new Map();
  state.tokens = new Map();
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
  $('account-name').textContent = '';
  $('tokens-body').replaceChildren();
  $('models-body').replaceChildren();
  $('audit-list').replaceChildren();
  $('create-secret').value = '';
  resetFilters();
  if (location.hash === '#/signin') route(false);
  else location.hash = '#/signin';
  toast(msg || 'Signed out. The license was removed from this tab.');
}

$('sign-out').addEventListener('click', () => signOut());

// ---------------------------------------------------------------------------
// Models

async function loadModels() {
  const { data } = await api('GET', '/v1/models');
  state.models = data.models.slice().sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  state.modelNames = new Map(state.models.map((m) => [m.id, m.name]));
  fillModelSelect($('f-model'), 'Any model');
  fillModelSelect($('create-model'), 'No model');
}

/** Replaces a select's options with "none" and the models, keeping its choice if it still exists. */
function fillModelSelect(select, noneLabel, extra) {
  const keep = select.value;
  const options = [el('option', { value: '' }, noneLabel), ...state.models.map((m) => el('option', { value: m.id }, m.name))];
  if (extra && !state.modelNames.has(extra.id)) options.push(el('option', { value: extra.id }, extra.name));
  select.replaceChildren(...options);
  select.value = keep;
  if (select.value !== keep) select.value = '';
}

async function showModels() {
  showPage('models');
  $('models-error').hidden = true;
  try {
    await loadModels();
    renderModels();
  } catch (e) {
    failed(e, 'models-error');
  }
}

function renderModels() {
  $('models-body').replaceChildren(
    ...state.models.map((m) =>
      el('tr', {},
        el('td', { dataset: { label: 'Name' } }, m.name),
        el('td', { dataset: { label: 'ID' } }, el('code', {}, m.id)),
        el('td', { dataset: { label: 'Tokens' } },
          el('button', { type: 'button', class: 'link', 'aria-label': 'Show the tokens of ' + m.name, on: { click: () => showTokensOf(m.id) } }, 'Show tokens')))));
  $('models-empty').hidden = state.models.length > 0;
  $('models-table').hidden = state.models.length === 0;
}

/** Opens the Tokens page filtered to one model. */
function showTokensOf(modelId) {
  resetFilters();
  $('f-model').value = modelId;
  readFilters();
  location.hash = '#/tokens';
}

$('model-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearFormErrors('model');
  const name = $('model-name').value;
  await busy($('model-submit'), async () => {
    try {
      const { data } = await api('POST', '/v1/models', { body: { name } });
      $('model-name').value = '';
      await loadModels();
      renderModels();
      toast(`Model “${data.name}” created.`);
      $('model-name').focus();
    } catch (e) {
      showFormError('model', e);
    }
  });
});

// ---------------------------------------------------------------------------
// Tokens page

/** The query string of GET /v1/tokens for the filters, sort and page. */
function listQuery() {
  const l = state.list;
  const p = new URLSearchParams();
  if (l.q) p.set('q', l.q);
  for (const s of l.statuses) p.append('status', s);
  if (l.modelId) p.set('modelId', l.modelId);
  if (l.assigned) p.set('assigned', l.assigned);
  if (l.expiresBefore !== null) p.set('expiresBefore', String(l.expiresBefore));
  p.set('sort', l.sort);
  p.set('limit', String(l.limit));
  const cursor = l.cursors[l.page];
  if (cursor) p.set('cursor', cursor);
  return p.toString();
}

async function showTokens() {
  showPage('tokens');
  $('tokens-table').setAttribute('aria-busy', 'true'); // the rows shown may be old until loadTokens answers
  try {
    await loadModels(); // the model filter and the dialogs offer the current models
  } catch (e) {
    $('tokens-table').removeAttribute('aria-busy');
    return failed(e, 'tokens-error');
  }
  await loadTokens();
}

let listRequest = 0; // answers to older requests (filters changed meanwhile) are dropped

/** Loads and draws the page of tokens the state describes. */
async function loadTokens() {
  const mine = ++listRequest;
  const table = $('tokens-table');
  table.setAttribute('aria-busy', 'true');
  try {
    const { data } = await api('GET', '/v1/tokens?' + listQuery());
    if (mine !== listRequest) return;
    const l = state.list;
    if (data.tokens.length === 0 && l.page > 0) {
      // The last token of this page went away: show the page before.
      l.page--;
      l.cursors.length = l.page + 1;
      return loadTokens();
    }
    $('tokens-error').hidden = true;
    renderTokens(data.tokens, data.nextCursor);
  } catch (e) {
    if (mine === listRequest) failed(e, 'tokens-error');
  } finally {
    if (mine === listRequest) table.removeAttribute('aria-busy');
  }
}

function renderTokens(tokens, next) {
  // Keep keyboard focus on the same token's menu button across the redraw.
  const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest('#tokens-body [data-menu-for]');
  const focusedId = focused ? focused.dataset.menuFor : null;

  state.tokens = new Map(tokens.map((t) => [t.id, t]));
  const l = state.list;
  l.next = next;
  $('tokens-body').replaceChildren(...tokens.map(tokenRow));
  $('tokens-empty').hidden = tokens.length > 0;
  const from = l.page * l.limit + 1;
  $('tokens-summary').textContent = tokens.length
    ? `Page ${l.page + 1}: tokens ${from} to ${from + tokens.length - 1}`
    : `Page ${l.page + 1}: no tokens`;
  $('page-prev').disabled = l.page === 0;
  $('page-next').disabled = !next;
  for (const th of document.querySelectorAll('#tokens-table th[data-sort]')) {
    const f = th.dataset.sort;
    th.setAttribute('aria-sort', l.sort === f ? 'ascending' : l.sort === '-' + f ? 'descending' : 'none');
  }
  if (focusedId) restoreFocus(null, focusedId);
}

const auditHref = (id) => '#/tokens/' + seg(id) + '/audit';

function statusBadge(status) {
  return el('span', { class: 'badge badge-' + status.toLowerCase() }, fmt.statusLabel(status));
}

/**
 * A cell: its content in one <div>, so that at phone width, where each row
 * is a card, the cell is a two-column grid of its label (data-label, shown
 * by CSS) and that div.
 */
function cell(cls, label, ...content) {
  return el('td', { class: cls, dataset: { label } }, el('div', { class: 'cell-body' }, ...content));
}

/** One row of the table. */
function tokenRow(t) {
  const modelName = t.modelName ?? (t.modelId ? state.modelNames.get(t.modelId) ?? t.modelId : null);
  return el('tr', { dataset: { id: t.id } },
    cell('cell-name', 'Name',
      el('span', { class: 'token-name' }, t.name),
      t.note ? el('span', { class: 'note' }, t.note) : null),
    cell('cell-status', 'Status',
      statusBadge(t.status),
      t.expired ? el('span', { class: 'badge badge-expired' }, 'Expired') : null),
    cell('cell-expiration', 'Expiration',
      el('time', { datetime: fmt.isoDate(t.expirationDate) }, fmt.formatDate(t.expirationDate)),
      el('span', { class: 'relative' + (t.expired ? ' is-expired' : '') }, fmt.expiresIn(t.expirationDate, t.expired))),
    cell('cell-model', 'Model', modelName ?? el('span', { class: 'muted' }, 'Unassigned')),
    cell('cell-hint', 'Secret hint', el('code', {}, t.secretHint + '…')),
    cell('cell-created', 'Created', el('time', { datetime: fmt.isoDate(t.createdAt) }, fmt.formatDate(t.createdAt))),
    el('td', { class: 'cell-actions' }, rowMenu(t)));
}

// --- The three-dots menu of a row (WAI-ARIA menu button pattern) ----------

let openMenu = null; // {button, menu} of the open menu
let menuCount = 0;

function rowMenu(t) {
  const id = 'row-menu-' + ++menuCount;
  const button = el('button', {
    type: 'button',
    class: 'menu-button',
    'aria-haspopup': 'menu',
    'aria-expanded': 'false',
    'aria-controls': id,
    'aria-label': 'Actions for ' + t.name,
    dataset: { menuFor: t.id },
  }, el('span', { 'aria-hidden': 'true' }, '⋯'));

  const item = (label, action, key, opts = {}) =>
    el('li', { role: 'none' },
      el('button', {
        type: 'button',
        role: 'menuitem',
        tabindex: '-1',
        class: opts.danger ? 'danger-text' : null,
        'aria-disabled': opts.disabled ? 'true' : null,
        dataset: { action: key },
        on: {
          click: () => {
            if (opts.disabled) return;
            closeMenu(false);
            action();
          },
        },
      }, label));

  const menu = el('ul', { id, role: 'menu', class: 'menu', 'aria-label': 'Actions for ' + t.name, hidden: true, on: { keydown: menuKeys } },
    item('Edit', () => openEdit(t.id, button), 'edit'),
    item('Audit trail', () => { location.hash = auditHref(t.id); }, 'audit'),
    item('Cancel token', () => cancelToken(t, button), 'cancel', { disabled: t.status === 'CANCELED' }),
    item('Delete', () => deleteToken(t, button), 'delete', { danger: true }));

  button.addEventListener('click', () => {
    if (openMenu && openMenu.menu === menu) closeMenu(true);
    else openRowMenu(button, menu, 0);
  });
  button.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      openRowMenu(button, menu, e.key === 'ArrowDown' ? 0 : -1);
    }
  });
  return el('div', { class: 'menu-wrap' }, button, menu);
}

const menuItems = (menu) => [...menu.querySelectorAll('[role=menuitem]')];

/** Opens a row's menu and focuses its item at index (-1: the last). */
function openRowMenu(button, menu, index) {
  closeMenu(false);
  menu.hidden = false;
  button.setAttribute('aria-expanded', 'true');
  openMenu = { button, menu };
  const items = menuItems(menu);
  items[index < 0 ? items.length - 1 : index].focus();
}

function closeMenu(focusButton) {
  if (!openMenu) return;
  const { button, menu } = openMenu;
  openMenu = null;
  menu.hidden = true;
  button.setAttribute('aria-expanded', 'false');
  if (focusButton) button.focus();
}

/** Arrow keys, Home and End move between items; Escape closes; Tab closes and moves on. */
function menuKeys(e) {
  const items = menuItems(e.currentTarget);
  const i = items.indexOf(document.activeElement);
  switch (e.key) {
    case 'ArrowDown': items[(i + 1) % items.length].focus(); break;
    case 'ArrowUp': items[(i - 1 + items.length) % items.length].focus(); break;
    case 'Home': items[0].focus(); break;
    case 'End': items[items.length - 1].focus(); break;
    case 'Escape': closeMenu(true); break;
    case 'Tab': closeMenu(false); return; // let the focus move on
    default: return;
  }
  e.preventDefault();
}

document.addEventListener('click', (e) => {
  if (openMenu && !openMenu.menu.contains(e.target) && !openMenu.button.contains(e.target)) closeMenu(false);
});

// --- Sorting, filters, paging --------------------------------------------

for (const th of document.querySelectorAll('#tokens-table th[data-sort]')) {
  th.querySelector('button').addEventListener('click', () => {
    const f = th.dataset.sort;
    const l = state.list;
    l.sort = l.sort === f ? '-' + f : f; // first click ascending, then toggle
    resetPaging();
    loadTokens();
  });
}

function resetPaging() {
  state.list.cursors = [null];
  state.list.page = 0;
}

/** Reads the filter controls into the state. */
function readFilters() {
  const l = state.list;
  l.q = $('f-q').value.trim();
  l.statuses = [...$('filters').querySelectorAll('input[name=status]:checked')].map((i) => i.value);
  l.modelId = $('f-model').value;
  l.assigned = $('f-assigned').value;
  l.expiresBefore = fmt.fromLocalInput($('f-before').value);
  l.limit = Number($('f-limit').value);
  resetPaging();
}

function resetFilters() {
  $('filters').reset();
  readFilters();
  state.list.sort = '-createdAt';
}

function applyFilters() {
  readFilters();
  loadTokens();
}

let searchTimer = 0;
$('filters').addEventListener('input', (e) => {
  if (e.target.id !== 'f-q') return;
  clearTimeout(searchTimer);
  searchTimer = setTimeout(applyFilters, 250); // search as one types, not on every key
});
$('filters').addEventListener('change', (e) => {
  if (e.target.id !== 'f-q') applyFilters();
});
$('filters').addEventListener('submit', (e) => {
  e.preventDefault();
  clearTimeout(searchTimer);
  applyFilters();
});
$('filters').addEventListener('reset', () => setTimeout(applyFilters)); // once the controls are reset

$('page-next').addEventListener('click', () => {
  const l = state.list;
  if (!l.next) return;
  l.cursors[l.page + 1] = l.next;
  l.page++;
  loadTokens();
});
$('page-prev').addEventListener('click', () => {
  const l = state.list;
  if (l.page === 0) return;
  l.page--;
  l.cursors.length = l.page + 1;
  loadTokens();
});

// --- Cancel and delete ------------------------------------------------------

/** Runs a write from the table; a stale row (version_conflict) reloads the list. */
async function rowWrite(f) {
  $('tokens-error').hidden = true;
  try {
    await f();
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.code === 'version_conflict') {
      await loadTokens();
      failed(new Error('The token was changed elsewhere; the list now shows its latest details. Try again.'), 'tokens-error');
    } else {
      failed(e, 'tokens-error');
    }
    return false;
  }
}

async function cancelToken(t, opener) {
  const ok = await confirmDialog({
    title: `Cancel “${t.name}”?`,
    text: 'A canceled token stops working for good: it cannot be reactivated or changed afterwards, only deleted.',
    ok: 'Cancel token',
    opener,
    tokenId: t.id,
  });
  if (!ok) return;
  if (await rowWrite(() => api('POST', `/v1/tokens/${seg(t.id)}/cancel`, { ifMatch: t.version }))) {
    await loadTokens();
    toast(`Token “${t.name}” canceled.`);
  }
}

async function deleteToken(t, opener) {
  const ok = await confirmDialog({
    title: `Delete “${t.name}”?`,
    text: 'The token disappears from every list and its secret stops working at once. Its audit trail stays readable.',
    ok: 'Delete token',
    opener,
    tokenId: t.id,
  });
  if (!ok) return;
  if (await rowWrite(() => api('DELETE', `/v1/tokens/${seg(t.id)}`, { ifMatch: t.version }))) {
    await loadTokens();
    toast(`Token “${t.name}” deleted.`);
  }
}

// ---------------------------------------------------------------------------
// Edit window

let editing = null; // the TokenView the edit window shows

async function openEdit(id, opener) {
  let t;
  try {
    t = (await api('GET', '/v1/tokens/' + seg(id))).data; // fresh, with its current version
  } catch (e) {
    return failed(e, 'tokens-error');
  }
  editing = t;
  clearFormErrors('edit');
  fillEdit(t);
  openDialog($('edit-dialog'), opener, id);
  $('edit-name').focus();
}

function fillEdit(t) {
  $('edit-title').textContent = `Edit “${t.name}”`;
  $('edit-name').value = t.name;
  $('edit-note').value = t.note ?? '';
  $('edit-expiration').value = fmt.toLocalInput(t.expirationDate);
  $('edit-status').value = t.status;
  fillEditModel(t);
}

/**
 * The model control: a select while the token is unassigned; an assigned
 * token shows its model (the select, disabled) and an Unassign button,
 * because the API assigns only unassigned tokens.
 */
function fillEditModel(t) {
  const select = $('edit-model');
  const name = t.modelName ?? state.modelNames.get(t.modelId) ?? t.modelId;
  select.value = '';
  fillModelSelect(select, 'No model', t.modelId ? { id: t.modelId, name } : null);
  select.value = t.modelId ?? '';
  const assigned = Boolean(t.modelId);
  select.disabled = assigned;
  $('edit-unassign').hidden = !assigned;
  $('edit-model-help').textContent = assigned
    ? `Assigned to ${name}. To choose another model, unassign it first.`
    : 'The model this token may query. It can be chosen while the token is unassigned.';
}

$('edit-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const t = editing;
  if (!t) return;
  clearFormErrors('edit');

  // PATCH only what changed: absent fields stay as they are.
  const patch = {};
  const name = $('edit-name').value;
  if (name.trim() !== t.name) patch.name = name;
  const note = $('edit-note').value;
  if (note !== (t.note ?? '')) patch.note = note === '' ? null : note; // null clears the note
  const exp = $('edit-expiration').value;
  if (exp !== fmt.toLocalInput(t.expirationDate)) {
    const secs = fmt.fromLocalInput(exp);
    if (secs === null) return fieldError('edit', 'expirationDate', 'Choose a date and time.');
    patch.expirationDate = secs;
  }
  const status = $('edit-status').value;
  if (status !== t.status) patch.status = status;
  const model = $('edit-model');
  if (!model.disabled && (model.value || null) !== (t.modelId ?? null)) patch.modelId = model.value || null;

  if (Object.keys(patch).length === 0) {
    $('edit-dialog').close();
    toast('Nothing changed.');
    return;
  }
  await busy($('edit-submit'), async () => {
    try {
      // If-Match: refused with version_conflict if someone changed the token meanwhile.
      const { data } = await api('PATCH', '/v1/tokens/' + seg(t.id), { body: patch, ifMatch: t.version });
      editing = data;
      await loadTokens(); // waits for our write (X-Min-Sequence), so the table shows it
      $('edit-dialog').close();
      toast(`Token “${data.name}” updated.`);
    } catch (e) {
      showFormError('edit', e);
    }
  });
});

$('edit-unassign').addEventListener('click', async () => {
  const t = editing;
  if (!t) return;
  clearFormErrors('edit');
  await busy($('edit-unassign'), async () => {
    try {
      const { data } = await api('DELETE', `/v1/tokens/${seg(t.id)}/model`, { ifMatch: t.version });
      editing = data; // the other fields' edits stay in the form
      fillEditModel(data);
      $('edit-model').focus();
      toast('Model unassigned. Choose another one and press Update Token, or close the window.');
      loadTokens();
    } catch (e) {
      showFormError('edit', e);
    }
  });
});

$('edit-reload').addEventListener('click', async () => {
  const t = editing;
  if (!t) return;
  try {
    const { data } = await api('GET', '/v1/tokens/' + seg(t.id));
    editing = data;
    clearFormErrors('edit');
    fillEdit(data);
    $('edit-name').focus();
    toast('Reloaded: the window shows the token’s latest details.');
    loadTokens();
  } catch (e) {
    showFormError('edit', e);
  }
});

$('edit-dialog').addEventListener('close', () => {
  editing = null;
});

// ---------------------------------------------------------------------------
// Create token: the form, then the secret, shown once.

$('create-open').addEventListener('click', () => {
  const form = $('create-form');
  form.reset();
  clearFormErrors('create');
  form.hidden = false;
  $('create-done').hidden = true;
  $('create-dialog').setAttribute('aria-labelledby', 'create-title');
  // Thirty days from now, to the minute, as a starting point.
  const in30 = Math.floor(Date.now() / 60000) * 60 + 30 * 86400;
  $('create-expiration').value = fmt.toLocalInput(in30);
  fillModelSelect($('create-model'), 'No model');
  $('create-model').value = '';
  openDialog($('create-dialog'), $('create-open'));
  $('create-name').focus();
});

$('create-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearFormErrors('create');
  const body = { name: $('create-name').value };
  const note = $('create-note').value;
  if (note !== '') body.note = note;
  const exp = fmt.fromLocalInput($('create-expiration').value);
  if (exp === null) return fieldError('create', 'expirationDate', 'Choose a date and time.');
  body.expirationDate = exp;
  if ($('create-model').value) body.modelId = $('create-model').value;
  await busy($('create-submit'), async () => {
    try {
      const { data } = await api('POST', '/v1/tokens', { body });
      $('create-secret-name').textContent = data.token.name;
      $('create-secret').value = data.secret || '';
      $('create-copy-status').textContent = '';
      $('create-form').hidden = true;
      $('create-done').hidden = false;
      $('create-dialog').setAttribute('aria-labelledby', 'create-done-title');
      $('create-secret').focus();
      $('create-secret').select();
      await loadTokens();
    } catch (e) {
      showFormError('create', e);
    }
  });
});

$('create-copy').addEventListener('click', async () => {
  const input = $('create-secret');
  const status = $('create-copy-status');
  try {
    await navigator.clipboard.writeText(input.value);
    status.textContent = 'Copied to the clipboard.';
  } catch {
    // No clipboard API (an insecure origin, or permission refused): select
    // the secret for Ctrl+C, after trying the older copy command.
    input.focus();
    input.select();
    status.textContent = document.execCommand('copy')
      ? 'Copied to the clipboard.'
      : 'The secret is selected: press Ctrl+C (⌘C on a Mac) to copy it.';
  }
});

$('create-dialog').addEventListener('close', () => {
  $('create-secret').value = ''; // the secret leaves the page with the window
});

// ---------------------------------------------------------------------------
// Audit trail of one token

const audit = { id: null, cursor: null, deleted: false, name: null };

async function showAudit(id) {
  showPage('audit');
  audit.id = id;
  audit.cursor = null;
  audit.deleted = false;
  audit.name = null;
  $('audit-list').replaceChildren();
  $('audit-error').hidden = true;
  $('audit-more').hidden = true;
  $('audit-title').textContent = 'Audit trail';
  $('audit-sub').textContent = '';
  try {
    const { data: t } = await api('GET', '/v1/tokens/' + seg(id));
    $('audit-title').textContent = `Audit trail of “${t.name}”`;
    $('audit-sub').textContent = `Token ${t.id} · ${fmt.statusLabel(t.status)} · version ${t.version}`;
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) return failed(e, 'audit-error');
    $('audit-sub').textContent = `Token ${id} is deleted; its trail stays readable.`;
    audit.deleted = true;
  }
  await loadAudit();
}

async function loadAudit() {
  const p = new URLSearchParams({ limit: '100' });
  if (audit.cursor) p.set('cursor', audit.cursor);
  try {
    const { data } = await api('GET', `/v1/tokens/${seg(audit.id)}/audit?${p}`);
    $('audit-list').append(...data.entries.map(auditEntry));
    // A deleted token has no view any more: its trail still tells its last name.
    for (const e of data.entries) if (e.changes && e.changes.name) audit.name = e.changes.name.to;
    if (audit.deleted && audit.name) $('audit-title').textContent = `Audit trail of “${audit.name}” (deleted)`;
    audit.cursor = data.nextCursor;
    $('audit-more').hidden = !data.nextCursor;
  } catch (e) {
    failed(e, 'audit-error');
  }
}

$('audit-more').addEventListener('click', loadAudit);

function actorLabel(actor) {
  if (!actor) return 'unknown';
  if (actor.kind === 'system') return 'the service';
  return actor.kind + (actor.id ? ' ' + actor.id : '');
}

/** One value of a change, as a person reads it. */
function changeValue(field, v) {
  if (v === null || v === undefined || v === '') return el('span', { class: 'value none' }, 'none');
  let text = String(v);
  if (field === 'expirationDate') text = fmt.formatDate(Number(v));
  else if (field === 'status') text = fmt.statusLabel(text);
  else if (field === 'modelId') text = state.modelNames.get(v) ?? v;
  return el('span', { class: 'value' }, text);
}

/** One entry of the timeline: what happened, when, by whom, and from → to per field. */
function auditEntry(e) {
  const at = fmt.parseRFC3339(e.at);
  const unix = at.getTime() / 1000;
  const issued = e.type === 'TokenIssued';
  const changes = Object.entries(e.changes || {});
  return el('li', { class: 'event', dataset: { type: e.type } },
    el('div', { class: 'event-head' },
      el('span', { class: 'event-type' }, fmt.eventLabel(e.type)),
      el('time', { datetime: e.at, title: e.at }, fmt.formatDate(unix)),
      el('span', { class: 'muted' }, fmt.relative(unix))),
    el('div', { class: 'event-actor' }, 'by ', el('span', { class: 'actor' }, actorLabel(e.actor))),
    changes.length
      ? el('dl', { class: 'changes' },
        changes.flatMap(([field, c]) => [
          el('dt', {}, fmt.fieldLabel(field)),
          el('dd', {},
            issued && c.from === null ? null : [
              el('span', { class: 'from' }, changeValue(field, c.from)),
              ' ',
              el('span', { class: 'arrow', role: 'img', 'aria-label': 'changed to' }, '→'),
              ' ',
            ],
            el('span', { class: 'to' }, changeValue(field, c.to))),
        ]))
      : null);
}

// ---------------------------------------------------------------------------

route(false);
