// ProxyHeader's TLV look-ups.
#include "proxy_protocol/header.hpp"

#include <algorithm>

namespace ringd::proxy_protocol {

namespace {

const Tlv* find_in(const std::vector<Tlv>& tlvs, uint8_t type)
{
    const auto it = std::find_if(tlvs.begin(), tlvs.end(), [type](const Tlv& tlv) { return tlv.type == type; });
    return it == tlvs.end() ? nullptr : &*it;
}

} // namespace

const Tlv* SslInfo::find(uint8_t type) const
{
    return find_in(sub_tlvs, type);
}

const Tlv* ProxyHeader::find(uint8_t type) const
{
    return find_in(tlvs, type);
}

} // namespace ringd::proxy_protocol
