// Loaded before the widget manager on pages with widgets (see nb_ipywidgets_js in _config.yml).
(function () {
  // Let RequireJS resolve modules next to this file (the book's _static folder), so the
  // vendored widget manager finds its chunks and fonts without a CDN.
  var here = document.currentScript.src;
  requirejs.config({ baseUrl: here.slice(0, here.lastIndexOf("/") + 1) });

  // The widget manager typesets with MathJax 2's MathJax.Hub.Queue; the book loads
  // MathJax 3, which has no Hub. Forward such calls to MathJax 3's typesetPromise.
  function forwardMathJax2Calls() {
    if (window.MathJax && !window.MathJax.Hub) {
      window.MathJax.Hub = {
        Queue: function (job) {
          if (window.MathJax.typesetPromise) {
            window.MathJax.typesetPromise([job[2]]);
          }
        },
      };
    }
  }
  forwardMathJax2Calls();
  document.addEventListener("DOMContentLoaded", forwardMathJax2Calls);
})();
