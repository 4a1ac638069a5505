"""Cache key function: keys are used exactly as the code spells them.

The operators' checklist reads the mailer's counters with redis-cli under fixed names
(`crm:mailer:rate:hour:2026-11-30:10`), so no prefix or version is added.
"""


def raw_key(key, key_prefix, version):
    return key
