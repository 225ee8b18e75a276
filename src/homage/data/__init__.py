"""Data: recordings grouped into works (:mod:`manifest`), and the versions corpus — works from POP909,
ASAP and recordings (:mod:`sources`), arranged (:mod:`arrange`, :mod:`versions`), rendered (:mod:`synth`,
:mod:`render`) through a recording chain (:mod:`chain`) by a resumable parallel build (:mod:`build`)."""
