/* The "Create mailing" page counts again by itself when a choice that changes the
 * numbers changes: the owner, the "already received" option, or the message while
 * that option is on. Without script, the "Recount" button does the same. The page of
 * a list created in the background counts nothing: its form has no
 * data-massmail-recount, so nothing happens here.
 */
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-massmail-recount]");
  if (!form) {
    return;
  }
  const skip = form.elements.skip_already_received;
  const recount = () => form.elements._recount.click();
  form.elements.owner?.addEventListener("change", recount);
  skip.addEventListener("change", recount);
  form.elements.message.addEventListener("change", () => skip.checked && recount());
});
