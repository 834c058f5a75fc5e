// The call page's timeline: segments and markers are placed from their data-left / data-width (percent). Style
// attributes in the markup would need 'unsafe-inline' in the Content-Security-Policy; styles set here do not.
(() => {
  "use strict";
  for (const element of document.querySelectorAll(".timeline [data-left]")) {
    element.style.left = `${element.dataset.left}%`;
    if (element.dataset.width) element.style.width = `${element.dataset.width}%`;
  }
})();
