"""What the accounts app tells the apps above it (which it may not import).

`account_closed` is sent inside the transaction that closes an account
(accounts/closure.py), after the account's row is written and before its
audit event commits: a receiver's writes commit or roll back with the
closure. Receivers get:

- `account`: the Account, with closed_at, closure_reason, closed_by and
  closure_verification set;
- `client_closed`: True when this closure left the client with no open
  account (A8): from now on the client logs in for statements and tax
  forms only, and a device the client still holds is a device not returned
  at closure (T6, which the returns app charges);
- `agent`, `verification`, `now`, `request` (may be None).
"""

from django.dispatch import Signal

account_closed = Signal()
