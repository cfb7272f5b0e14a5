#pragma once

#include <optional>
#include <utility>
#include <variant>

#include <QMetaType>
#include <QString>

namespace fmb {

// What went wrong, for code to branch on. The edge (transport, daemon main)
// maps these to HTTP statuses, JSON-RPC errors and exit codes; core code never
// picks a status itself.
enum class ErrorCode {
    InvalidArgument, // a config value, a flag, a request field
    NotFound,        // unknown session, client, file
    Forbidden,       // the caller may not do this
    Unauthorized,    // no or bad credentials
    LimitReached,    // a cap (sessions, sizes, rate)
    Conflict,        // a second stream, a duplicate id
    Unavailable,     // a peer (child, upstream) could not be reached or started
    Io,              // reading or writing a file or socket failed
    Internal,
};

struct Error {
    ErrorCode code = ErrorCode::Internal;
    QString subject; // the key, id or URL the error is about (never a secret)
    QString message; // for people; already names the value and the limit
};

// A value or an Error; C++20 has no std::expected.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value)
        : m_value(std::move(value))
    {}
    Result(Error error)
        : m_value(std::move(error))
    {}

    [[nodiscard]] bool ok() const { return std::holds_alternative<T>(m_value); }
    explicit operator bool() const { return ok(); }
    [[nodiscard]] const T &value() const & { return std::get<T>(m_value); }
    [[nodiscard]] T &value() & { return std::get<T>(m_value); }
    [[nodiscard]] T &&value() && { return std::get<T>(std::move(m_value)); }
    [[nodiscard]] const Error &error() const { return std::get<Error>(m_value); }

private:
    std::variant<T, Error> m_value;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error)
        : m_error(std::move(error))
    {}

    [[nodiscard]] bool ok() const { return !m_error.has_value(); }
    explicit operator bool() const { return ok(); }
    [[nodiscard]] const Error &error() const { return *m_error; }

private:
    std::optional<Error> m_error;
};

} // namespace fmb
