#include "TokenStore.h"

namespace fmb {

TokenStore::~TokenStore() = default;

std::optional<TokenRecord> TokenStore::cachedAccessToken(const TokenHash & /*hash*/) const
{
    return std::nullopt;
}

void TokenStore::revalidateAccessToken(const TokenHash & /*hash*/)
{}

Result<bool> TokenStore::tryLockUpstreamRefresh(qint64 /*userId*/)
{
    return true;
}

void TokenStore::unlockUpstreamRefresh(qint64 /*userId*/)
{}

void TokenStore::announceUpstreamTokens(qint64 /*userId*/)
{}

void TokenStore::setUpstreamTokensListener(std::function<void(qint64 userId)> /*listener*/)
{}

} // namespace fmb
