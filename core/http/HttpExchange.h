#pragma once

#include <memory>

#include <QByteArray>
#include <QHostAddress>

#include "http/HttpHeaders.h"

namespace fmb {

// Where an exchange's answer goes. Transport implements it over a socket;
// nothing outside transport sees the socket.
class HttpChannel {
public:
    virtual ~HttpChannel() = default;
    // Whether the client is still there to be answered.
    [[nodiscard]] virtual bool isOpen() const = 0;
    [[nodiscard]] virtual QHostAddress peerAddress() const = 0;
    // Writes a complete response now; closes the connection after it when
    // `close`. Does nothing once the client is gone.
    virtual void write(int status, const Http::HeaderList &headers, QByteArrayView body, bool close) = 0;
};

// One HTTP request's answer, as every route handler gets it. A cheap value:
// a handler that answers later (after an upstream round trip) keeps a copy;
// answering a client that has left does nothing. Answer once.
class HttpExchange {
public:
    // `close`: the request asked for "Connection: close"; every answer then
    // says so and the connection ends after it.
    HttpExchange(std::shared_ptr<HttpChannel> channel, bool close);

    [[nodiscard]] bool isOpen() const;
    [[nodiscard]] QHostAddress peerAddress() const;
    [[nodiscard]] bool closesAfter() const { return m_close; }
    // For transport, which streams on its own channels (HttpSink::start).
    [[nodiscard]] HttpChannel *channel() const { return m_channel.get(); }

    // A complete response with Content-Length.
    void answer(int status, Http::HeaderList headers, QByteArrayView body) const;
    // 302 to `location`, uncached and without a Referer for the next page.
    void redirect(const QByteArray &location, Http::HeaderList headers = {}) const;

private:
    std::shared_ptr<HttpChannel> m_channel;
    bool m_close = false;
};

} // namespace fmb
