"""The address rules of the outbound guard (apps/core/netguard.py) and the operator's allow-list setting."""

from __future__ import annotations

from ipaddress import ip_address

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.core.netguard import AddressPolicy, host_address, is_public, url_problem
from apps.providers.outbound import provider_address_policy

INTERNAL = [
    "127.0.0.1", "127.255.0.9", "0.0.0.0", "10.1.2.3",  # noqa: S104 (an address to judge, not to bind)
    "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "224.0.0.1", "239.255.255.250", "255.255.255.255", "198.18.0.1", "240.0.0.1", "192.0.2.1",
    "::1", "::", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "fc00::1", "fd12::1", "fe80::1", "fe80::1%eth0",
    "fec0::1", "ff02::1", "2001:db8::1", "64:ff9b::7f00:1", "2002:7f00:1::", "::127.0.0.1",
]  # fmt: skip
PUBLIC = ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"]


@pytest.mark.parametrize("address", INTERNAL)
def test_internal_addresses_are_not_public(address):
    assert not is_public(ip_address(address))
    assert not AddressPolicy().permits(ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are(address):
    assert is_public(ip_address(address))


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "127.1", "0177.0.0.1", "0x7f000001", "[::ffff:7f00:1]"])
def test_every_way_of_writing_loopback_is_read_as_loopback(host):
    assert host_address(host).is_loopback or host_address(host).ipv4_mapped.is_loopback


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "127.1"])
def test_a_url_with_a_legacy_numeric_address_is_unusable(host):
    assert url_problem(f"http://{host}/v1") == "Write the IP address as 127.0.0.1, in dotted decimal form."


def test_the_allow_list_takes_networks_addresses_and_host_names():
    policy = AddressPolicy.from_entries(["10.0.0.0/8", "127.0.0.1", "[::1]", "Ollama", "gpu.internal."])
    assert policy.permits(ip_address("10.9.8.7"))
    assert policy.permits(ip_address("::ffff:127.0.0.1"))  # the IPv4 address it maps to is listed
    assert policy.permits(ip_address("::1"))
    assert not policy.permits(ip_address("127.0.0.2"))
    assert not policy.permits(ip_address("169.254.169.254"))
    assert policy.permits_host("ollama.")
    assert policy.permits_host("GPU.internal")
    assert not policy.permits_host("localhost")


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "http://ollama", "a b", "2130706433"])
def test_a_bad_allow_list_entry_is_a_configuration_error_naming_the_setting(settings, entry):
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = [entry]
    with pytest.raises(ImproperlyConfigured, match="PROVIDER_ALLOW_PRIVATE_NETWORKS"):
        provider_address_policy(trusted=False)
    assert provider_address_policy(trusted=True).allow_all
