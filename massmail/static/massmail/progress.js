/* Keeps the progress cells of active mailings up to date without reloading the page.
 *
 * Cells are elements with data-massmail-mailing (the mailing id), data-massmail-field
 * (status, progress, sent_24h, why) and data-massmail-active. While any cell belongs
 * to an active mailing, the script asks the JSON endpoint named by its own data-url
 * about those mailings every few seconds and replaces the cells' content with the
 * server-rendered HTML; it stops when none is active any more.
 */
"use strict";
(function () {
  const script = document.currentScript;
  const url = script.dataset.url;
  const interval = Number(script.dataset.interval || 3000);

  function activeIds() {
    const cells = document.querySelectorAll('[data-massmail-mailing][data-massmail-active="true"]');
    return [...new Set([...cells].map((cell) => cell.dataset.massmailMailing))];
  }

  function update(id, mailing) {
    const cells = document.querySelectorAll(`[data-massmail-mailing="${id}"]`);
    for (const cell of cells) {
      const html = mailing.cells[cell.dataset.massmailField];
      if (html !== undefined) {
        cell.innerHTML = html;
      }
      cell.dataset.massmailActive = String(mailing.active);
    }
  }

  async function poll() {
    const ids = activeIds();
    if (!ids.length) {
      return;
    }
    try {
      const response = await fetch(`${url}?ids=${ids.join(",")}`, {
        credentials: "same-origin",
        headers: {Accept: "application/json"},
      });
      if (response.status >= 400 && response.status < 500) {
        return;  // logged out, or the mailing is gone: stop asking
      }
      if (response.ok) {
        const data = await response.json();
        for (const [id, mailing] of Object.entries(data.mailings)) {
          update(id, mailing);
        }
      }
    } catch (error) {
      // A network hiccup: try again at the next tick, like after a server error.
    }
    window.setTimeout(poll, interval);
  }

  window.setTimeout(poll, interval);
})();
