// "Select every record on this page": a header checkbox with data-select-all="<name>" checks or clears every
// checkbox named <name> in its form. Without JavaScript it stays hidden and the per-row boxes work alone.
// (A file, not an inline script: the Content-Security-Policy forbids inline scripts.)
document.querySelectorAll("input[data-select-all]").forEach((box) => {
  const name = box.getAttribute("data-select-all");
  const rows = () => Array.from(box.form ? box.form.querySelectorAll(`input[type=checkbox][name="${name}"]`) : []);
  const sync = () => {
    const all = rows();
    const checked = all.filter((row) => row.checked).length;
    box.checked = all.length > 0 && checked === all.length;
    box.indeterminate = checked > 0 && checked < all.length;
  };
  box.hidden = false;
  box.addEventListener("change", () => {
    rows().forEach((row) => { row.checked = box.checked; });
    sync();
  });
  rows().forEach((row) => row.addEventListener("change", sync));
  sync();
});
