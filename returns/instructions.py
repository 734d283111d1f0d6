"""T5: what a client does with each type of device, and how its replacement comes.

    instructions_for(device_type) -> Instructions

One table, read by the Returns page, the return form and the receipt
(returns/flows.py), so that what the page promises is what the receipt does.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from devices.models import DeviceType


class Replacement:
    """How the replacement of a returned device comes (T5)."""

    # D5: after the receipt, an invitation to request it in the portal if the
    # equity still qualifies for Platinum; otherwise it is ordered (D6).
    INVITATION = "invitation"
    # T5, D6: "Yes" on the form is enough: ordered at the receipt, by equity.
    AUTOMATIC = "automatic"
    # T5, D2: the client logs in, requests it and creates its PIN.
    CLIENT_REQUESTS = "client_requests"
    # Nothing to return, nothing to replace through a return.
    NONE = "none"


@dataclass(frozen=True)
class Instructions:
    device_type: str
    # False: the device is not sent back (T5: the code card is destroyed).
    returned: bool
    what_to_do: Promise
    replacement: str


_TABLE = {
    DeviceType.PLATINUM: Instructions(
        DeviceType.PLATINUM,
        True,
        _(
            "Send it back with the return form. If you need a replacement, request it here in Account Management "
            "once we have confirmed that we received your token: only one device is linked to your account at a "
            "time. We e-mail you when you can request it. The confirmation page then shows the PIN and the "
            "passphrase that activate the new token, only once: print it and keep it until the token is active."
        ),
        Replacement.INVITATION,
    ),
    DeviceType.ALPINE: Instructions(
        DeviceType.ALPINE,
        True,
        _(
            "Send it back with the return form. If you need a replacement, answering “Yes” to “Do you need a "
            "replacement device?” is enough: once we have confirmed the return, a device for your account’s "
            "equity is sent to you, with nothing to do on the website."
        ),
        Replacement.AUTOMATIC,
    ),
    DeviceType.DSC_PLUS: Instructions(
        DeviceType.DSC_PLUS,
        True,
        _(
            "Send it back with the return form. If you need a replacement, log in and request the new card on the "
            "Secure Login System page, and create its PIN there: you need the PIN to activate the card."
        ),
        Replacement.CLIENT_REQUESTS,
    ),
    # (ours) The Gold token has a PIN the client sets, like the Digital
    # Security Card+ (D2): its replacement is requested the same way.
    DeviceType.GOLD: Instructions(
        DeviceType.GOLD,
        True,
        _(
            "Send it back with the return form. If you need a replacement, log in and request the new device on "
            "the Secure Login System page, and create its PIN there: you need the PIN to activate it."
        ),
        Replacement.CLIENT_REQUESTS,
    ),
    DeviceType.CODE_CARD: Instructions(
        DeviceType.CODE_CARD,
        False,
        _("A Security Code Card need not be returned: you can destroy it."),
        Replacement.NONE,
    ),
    DeviceType.MOBILE: Instructions(
        DeviceType.MOBILE,
        False,
        _("The mobile authenticator is an app on your own phone: there is nothing to send back."),
        Replacement.NONE,
    ),
}

# A type this table does not know (none today): nothing is promised.
_UNKNOWN = _("We have no return instructions for this device: please call your Customer Service Center.")


def instructions_for(device_type: str) -> Instructions:
    found = _TABLE.get(device_type)
    if found is None:
        return Instructions(device_type, False, _UNKNOWN, Replacement.NONE)
    return found


RETURNED_TYPES = tuple(device_type for device_type, found in _TABLE.items() if found.returned)
