"""``python -m qrtc`` is the ``qrtc`` command."""

from __future__ import annotations

import sys

from qrtc.cli import main

sys.exit(main())
