#include "McpRequest.h"

#include <cstring>

namespace fmb {

McpRequest McpRequest::detached() const
{
    if (m_copy)
        return *this;
    auto copy = std::make_shared<Copy>();
    for (std::size_t i = 0; i < readHeaders.size(); ++i)
        copy->headers[i] = m_request->value(readHeaders[i]);
    copy->body = m_request->body();
    copy->method = m_request->method();
    McpRequest detached;
    detached.m_copy = std::move(copy);
    return detached;
}

QByteArray McpRequest::value(const char *name) const
{
    if (m_request)
        return m_request->value(name);
    for (std::size_t i = 0; i < readHeaders.size(); ++i) {
        if (std::strcmp(readHeaders[i], name) == 0)
            return m_copy->headers[i];
    }
    Q_ASSERT_X(false, "McpRequest::value", "a header a copy does not hold: add it to readHeaders");
    return {};
}

QHttpServerRequest::Method McpRequest::method() const
{
    return m_request ? m_request->method() : m_copy->method;
}

QByteArray McpRequest::body() const
{
    return m_request ? m_request->body() : m_copy->body;
}

} // namespace fmb
