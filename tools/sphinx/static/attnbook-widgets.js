// Loaded between require.js and the ipywidgets HTML manager (embed-amd.js).
(function () {
  "use strict";
  var root = new URL(document.documentElement.dataset.content_root || "./", window.location.href);

  // The HTML manager finds its fonts relative to its own AMD module id,
  // "@jupyter-widgets/html-manager/dist/...": point that id at _offline/.
  window.require.config({
    paths: {"@jupyter-widgets/html-manager/dist": new URL("_offline/html-manager", root).href},
  });

  // ipywidgets typesets labels with the MathJax 2 API, MathJax.Hub.Queue; the book
  // loads MathJax 3, which replaces window.MathJax when its (deferred) script runs.
  // Before the widgets render, give MathJax 3 a Hub.Queue that calls typesetPromise.
  document.addEventListener("DOMContentLoaded", function () {
    var mathjax = window.MathJax;
    if (!mathjax || mathjax.Hub) return;
    mathjax.Hub = {
      Queue: function (command) {
        var element = command && command[2];
        if (element && mathjax.startup && mathjax.startup.promise) {
          mathjax.startup.promise.then(function () { return mathjax.typesetPromise([element]); });
        }
      },
    };
  });
})();
