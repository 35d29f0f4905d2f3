// The rule form without clutter: show only the inputs of the chosen trigger and of each action's
// type, and only the stages of the chosen pipeline. Without this script every input shows, each
// labelled, and the server reads only those that belong to the choice.
(function () {
  "use strict";

  function sync(form) {
    form.querySelectorAll("[data-show-when]").forEach(function (element) {
      // "name=value" shows the element for that choice; "name!=value" for every other one.
      var rule = element.getAttribute("data-show-when");
      var negated = rule.indexOf("!=") !== -1;
      var parts = rule.split(negated ? "!=" : "=");
      var scope = element.closest("[data-scope]") || form;
      var select = scope.querySelector('[data-switch="' + parts[0] + '"]') ||
        form.querySelector('[data-switch="' + parts[0] + '"]');
      element.hidden = Boolean(select) && (select.value === parts[1]) === negated;
    });
    var pipeline = form.querySelector('[data-switch="pipeline"]');
    form.querySelectorAll("optgroup[data-pipeline]").forEach(function (group) {
      group.hidden = Boolean(pipeline && pipeline.value) && group.getAttribute("data-pipeline") !== pipeline.value;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.rule-form").forEach(function (form) {
      form.addEventListener("change", function () { sync(form); });
      sync(form);
    });
  });
})();
