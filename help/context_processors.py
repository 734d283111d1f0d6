from . import regions


def static() -> dict:
    """The layout's data that needs no request and no database (error pages)."""
    return {
        "sls_regions": regions.all_regions(),
        "sls_technical_support": regions.TECHNICAL_SUPPORT_PHONE,
        "sls_technical_support_tel": regions.TECHNICAL_SUPPORT_TEL,
    }


def sls(request) -> dict:
    return {"sls_scope": getattr(request, "sls_scope", None), **static()}
