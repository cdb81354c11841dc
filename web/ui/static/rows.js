/*
 * rows.js: form rows that can be added and removed, for the device type
 * editor. The page works without it: a row left blank is ignored, so
 * removing a row is emptying it, and a blank row is always offered.
 *
 *   <tbody id="X">                     the rows, each a <tr data-row>
 *   <template id="X-template">         one blank row
 *   <button data-add-row="X">          appends a copy of the template to X
 *   <button data-remove-row>           inside a row: removes that row
 */
(function () {
  "use strict";

  document.addEventListener("click", function (e) {
    var t = e.target;
    if (!(t instanceof Element)) {
      return;
    }
    var add = t.closest("[data-add-row]");
    if (add) {
      var id = add.getAttribute("data-add-row");
      var rows = document.getElementById(id);
      var tpl = document.getElementById(id + "-template");
      if (rows && tpl) {
        var row = tpl.content.firstElementChild.cloneNode(true);
        rows.appendChild(row);
        var first = row.querySelector("input, select, textarea");
        if (first) {
          first.focus();
        }
      }
      e.preventDefault();
      return;
    }
    var remove = t.closest("[data-remove-row]");
    if (remove) {
      var tr = remove.closest("[data-row]");
      if (tr) {
        tr.remove();
      }
      e.preventDefault();
    }
  });
})();
