"""A warning when the PDFs' CJK fonts are missing (settings.PDF_FONTS).

Without one of them the return form cannot be made (T1); `check --deploy
--fail-level WARNING` (make check-deploy) then fails before a client sees it.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.checks import Warning, register


@register()
def pdf_fonts(app_configs=None, **kwargs) -> list[Warning]:
    missing = [path for _name, path, _index in settings.PDF_FONTS.values() if not Path(path).is_file()]
    if not missing:
        return []
    return [
        Warning(
            f"PDF font file(s) not found: {', '.join(missing)}.",
            hint="Install Debian's fonts-wqy-zenhei and fonts-ipafont-gothic, or set PDF_FONT_DEFAULT / PDF_FONT_JA.",
            id="sls.W010",
        )
    ]
