#pragma once

#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include <QMetaType>
#include <QObject>
#include <QString>

namespace fmb {

// What went wrong, for code to branch on. The edge (transport, daemon main)
// maps these to HTTP statuses, JSON-RPC errors and exit codes; core code never
// picks a status itself. A meta enum, so QTest and logs print its name; in a
// namespace of its own, as every module's (one Q_NAMESPACE per namespace).
namespace base {
Q_NAMESPACE
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
Q_ENUM_NS(ErrorCode)
} // namespace base
using base::ErrorCode;

struct Error {
    ErrorCode code = ErrorCode::Internal;
    QString subject; // the key, id or URL the error is about (never a secret)
    QString message; // for people; already names the value and the limit
};

// A value or a failure; C++20 has no std::expected. The failure is an Error
// unless a caller needs more than a code and a message: then E is a small
// type of its own (an OAuth error with its status, a JSON-RPC error with its
// code) instead of a payload packed into Error::subject.
template <typename T, typename E = Error>
class [[nodiscard]] Result {
    static_assert(!std::is_same_v<T, E>, "a Result's value and failure need different types");

public:
    Result(T value)
        : m_value(std::in_place_index<0>, std::move(value))
    {}
    Result(E error)
        : m_value(std::in_place_index<1>, std::move(error))
    {}

    [[nodiscard]] bool ok() const { return m_value.index() == 0; }
    explicit operator bool() const { return ok(); }
    [[nodiscard]] const T &value() const & { return std::get<0>(m_value); }
    [[nodiscard]] T &value() & { return std::get<0>(m_value); }
    [[nodiscard]] T &&value() && { return std::get<0>(std::move(m_value)); }
    [[nodiscard]] const E &error() const { return std::get<1>(m_value); }

private:
    std::variant<T, E> m_value;
};

template <typename E>
class [[nodiscard]] Result<void, E> {
public:
    Result() = default;
    Result(E error)
        : m_error(std::move(error))
    {}

    [[nodiscard]] bool ok() const { return !m_error.has_value(); }
    explicit operator bool() const { return ok(); }
    [[nodiscard]] const E &error() const { return *m_error; }

private:
    std::optional<E> m_error;
};

} // namespace fmb
