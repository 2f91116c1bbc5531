// The request form: the commercial contact's fields hide while "same as the technical contact" is ticked.
(function () {
  "use strict";
  var same = document.getElementById("id_commercial_same_as_technical");
  var fields = document.getElementById("commercial-fields");
  if (!same || !fields) {
    return;
  }
  function sync() {
    fields.hidden = same.checked;
  }
  same.addEventListener("change", sync);
  sync();
})();
