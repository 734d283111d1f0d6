from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id with small costs, for the test suite only (settings_test)."""

    time_cost = 1
    memory_cost = 8192
    parallelism = 1
