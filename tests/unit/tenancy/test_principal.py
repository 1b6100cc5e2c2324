import pytest

from trainforge.errors import Forbidden
from trainforge.tenancy._keys import split_token
from trainforge.tenancy._principal import Principal


def test_a_tenant_key_acts_only_for_its_tenant():
    principal = Principal(key_id="k", tenant_id="alpha")
    assert principal.tenant_scope == "alpha"
    assert principal.act_for(None) == "alpha"
    assert principal.act_for("alpha") == "alpha"
    with pytest.raises(Forbidden) as refused:
        principal.act_for("beta")
    assert refused.value.field == "tenant_id"


def test_an_admin_key_acts_for_the_tenant_it_names_or_all():
    admin = Principal(key_id="k", tenant_id="ops", is_admin=True)
    assert admin.tenant_scope is None
    assert admin.act_for("beta") == "beta"
    assert admin.act_for(None) is None


@pytest.mark.parametrize(
    ("token", "parts"),
    [
        ("tfk_0123456789ab_s3cr3t", ("0123456789ab", "s3cr3t")),
        ("tfk_0123456789ab_with_underscores", ("0123456789ab", "with_underscores")),
        ("tfk_0123456789AB_secret", None),  # key ids are lower-case hex
        ("tfk_0123456789a\x00_secret", None),
        ("tfk_0123456789ab_sec ret", None),
        ("tfk_short_secret", None),
        ("xyz_0123456789ab_secret", None),
        ("tfk_0123456789ab_", None),
        ("tfk_0123456789ab_" + "s" * 129, None),
        ("", None),
    ],
)
def test_token_parsing(token, parts):
    assert split_token(token) == parts
