// The library page: short shareable search URLs, selecting recordings, and bulk actions that
// show the server's refusal on the page instead of leaving it.

const NOTICE_KEY = "library-notice";
const narrow = window.matchMedia("(max-width: 900px)");

const search = document.getElementById("search");
const filters = document.querySelector("details.filters");
const bulk = document.getElementById("bulk");
const selectPage = document.getElementById("select-page");
const rows = () => [...document.querySelectorAll("input[name=item_ids]")];

// Only the filled-in fields go into the address, so it stays short enough to share.
function submitSearch(event) {
  event.preventDefault();
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(search)) {
    if (String(value).trim()) params.append(name, String(value).trim());
  }
  const query = params.toString();
  window.location.assign(query ? `/?${query}` : "/");
}

function showSelection() {
  const chosen = rows().filter((box) => box.checked).length;
  document.getElementById("selected").textContent = String(chosen);
  bulk.hidden = chosen === 0;
  selectPage.checked = chosen > 0 && chosen === rows().length;
  selectPage.indeterminate = chosen > 0 && chosen < rows().length;
}

function selectAll() {
  for (const box of rows()) box.checked = selectPage.checked;
  showSelection();
}

function showBulkError(message) {
  const error = document.getElementById("bulk-error");
  error.textContent = message;
  error.hidden = false;
}

async function refusal(response) {
  try {
    const body = await response.json();
    return body.error || `The server refused (${response.status}).`;
  } catch {
    return `The server refused (${response.status}).`;
  }
}

// Categorising posts the bulk form from here: a refusal (a bad incident number, an item out of
// reach) comes back as a message to show beside the form. Adding to a case is an ordinary form
// post: the case page takes it from there, and may ask why.
async function submitBulk(event) {
  const button = event.submitter;
  if (button && button.hasAttribute("formaction")) return;
  event.preventDefault();
  const chosen = rows().filter((box) => box.checked).length;
  document.getElementById("bulk-error").hidden = true;
  if (button) button.disabled = true;
  try {
    const response = await fetch(bulk.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(bulk)),
      headers: { "X-CSRF-Token": document.body.dataset.csrf, Accept: "application/json" },
    });
    if (!response.ok) {
      showBulkError(await refusal(response));
      return;
    }
    sessionStorage.setItem(NOTICE_KEY, `${chosen} recording${chosen === 1 ? "" : "s"} categorised.`);
    window.location.assign(response.url);
  } catch {
    showBulkError("The server could not be reached; nothing was changed. Try again.");
  } finally {
    if (button) button.disabled = false;
  }
}

function showNotice() {
  const notice = sessionStorage.getItem(NOTICE_KEY);
  if (!notice) return;
  sessionStorage.removeItem(NOTICE_KEY);
  const outcome = document.getElementById("outcome");
  outcome.textContent = notice;
  outcome.hidden = false;
}

if (search) search.addEventListener("submit", submitSearch);
if (filters && narrow.matches && !document.querySelector(".results > .error")) filters.open = false;
if (bulk) {
  for (const box of rows()) box.addEventListener("change", showSelection);
  selectPage.addEventListener("change", selectAll);
  bulk.addEventListener("submit", submitBulk);
  showSelection();
}
showNotice();
