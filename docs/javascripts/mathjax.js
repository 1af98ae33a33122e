// MathJax 3 configuration (the bundle is javascripts/mathjax/tex-svg.js, served by this site).
// SVG output draws the glyphs itself: no web font is fetched, so the math renders offline and
// from file://. arithmatex (generic mode) wraps the math in \( \) and \[ \] inside .arithmatex;
// a heading's math reaches the table of contents as plain text, typeset there too (md-nav__link > md-ellipsis).
window.MathJax = {
  tex: { inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]], processEscapes: true },
  svg: { fontCache: "global" },
  options: { ignoreHtmlClass: ".*|", processHtmlClass: "arithmatex|md-nav__link|md-ellipsis" },
};
