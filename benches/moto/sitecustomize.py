"""Makes moto's CreateKey cheap while the keyward benchmark seeds its estate.

moto generates an RSA key for every KMS key it creates, symmetric ones included (80-100 ms
each), which makes seeding thousands of keys take minutes. The benchmark puts this directory
on PYTHONPATH of the moto launcher and names a flag file in KEYWARD_BENCH_FAST_KEYS; while that
file exists, each key spec's private key is generated once and shared by the keys created
after it. The keys themselves are still created, listed and described through moto's real API;
only their (unused) asymmetric material is shared. Removing the flag file ends the shortcut.
"""

import os

FLAG = os.environ.get("KEYWARD_BENCH_FAST_KEYS")

if FLAG:
    from moto.kms import models as _kms_models

    _generate = _kms_models.generate_private_key
    _shared = {}

    def _generate_while_seeding(key_spec):
        if not os.path.exists(FLAG):
            return _generate(key_spec)
        if key_spec not in _shared:
            _shared[key_spec] = _generate(key_spec)
        return _shared[key_spec]

    _kms_models.generate_private_key = _generate_while_seeding
