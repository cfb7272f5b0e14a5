#pragma once

#include <array>
#include <memory>

#include <QByteArray>
#include <QHttpServerRequest>

namespace fmb {

// A request to /mcp as its handlers read it: a view of Qt's request while
// QAbstractHttpServer hands it over (the common case: nothing copied), or a
// copy of what the handlers read, for a request whose handling goes on after
// an asynchronous step (a bearer check that asks the token store, issue 14).
// QHttpServerRequest itself can be neither copied nor kept.
class McpRequest {
public:
    explicit McpRequest(const QHttpServerRequest &request)
        : m_request(&request)
    {}

    // A copy that outlives the QHttpServerRequest.
    [[nodiscard]] McpRequest detached() const;

    // A header's value (name in lower case); empty when absent. A copy
    // holds only the headers the /mcp handlers read (readHeaders).
    [[nodiscard]] QByteArray value(const char *name) const;
    [[nodiscard]] QHttpServerRequest::Method method() const;
    [[nodiscard]] QByteArray body() const;

    // Every header a /mcp handler reads after authentication.
    static constexpr std::array<const char *, 10> readHeaders{
        "host",           "origin",        "accept",     "content-type", "connection",
        "mcp-session-id", "last-event-id", "mcp-method", "mcp-name",     "mcp-protocol-version"};

private:
    struct Copy {
        std::array<QByteArray, readHeaders.size()> headers;
        QByteArray body;
        QHttpServerRequest::Method method = QHttpServerRequest::Method::Unknown;
    };
    McpRequest() = default;

    const QHttpServerRequest *m_request = nullptr; // the view; null in a copy
    std::shared_ptr<const Copy> m_copy;
};

} // namespace fmb
