#include "HttpExchange.h"

namespace fmb {

HttpExchange::HttpExchange(std::shared_ptr<HttpChannel> channel, bool close)
    : m_channel(std::move(channel))
    , m_close(close)
{}

bool HttpExchange::isOpen() const
{
    return m_channel && m_channel->isOpen();
}

QHostAddress HttpExchange::peerAddress() const
{
    return m_channel ? m_channel->peerAddress() : QHostAddress();
}

void HttpExchange::answer(int status, Http::HeaderList headers, QByteArrayView body) const
{
    if (!isOpen())
        return; // the client left while we waited
    if (m_close)
        headers.emplaceBack("Connection", "close");
    m_channel->write(status, headers, body, m_close);
}

void HttpExchange::redirect(const QByteArray &location, Http::HeaderList headers) const
{
    Http::HeaderList all{
        {"Location", location}, {"Cache-Control", "no-store"}, {"Referrer-Policy", "no-referrer"}};
    all.append(headers);
    answer(302, std::move(all), {});
}

} // namespace fmb
