#pragma once

#include <variant>

#include <QHashFunctions>
#include <QJsonValue>
#include <QString>

namespace fmb {

// A JSON-RPC id as MCP allows it: a string or an integer (null, fractions,
// objects are not ids). Also keys progress tokens, which follow the same
// rule. 1 and 1.0 are the same id on the wire; "1" is another. Null when the
// JSON value is no such id.
class RequestId final {
public:
    RequestId() = default;
    explicit RequestId(qint64 number);
    explicit RequestId(QString text);

    // Null for values that are not a string or an integer below 2^53.
    [[nodiscard]] static RequestId fromJson(const QJsonValue &value);

    [[nodiscard]] bool isNull() const { return m_value.index() == 0; }
    [[nodiscard]] bool isNumber() const { return m_value.index() == 1; }
    [[nodiscard]] bool isString() const { return m_value.index() == 2; }
    // The id as it goes back on the wire; JSON null for a null id.
    [[nodiscard]] QJsonValue toJson() const;
    // The value alone ("7", "abc"), as messages to people quote it; empty for null.
    [[nodiscard]] QString text() const;
    // For logs: 7, "abc" (a string id in quotes, so 7 and "7" differ); null.
    [[nodiscard]] QString toString() const;

    friend bool operator==(const RequestId &, const RequestId &) = default;
    // Null first, then numbers, then strings.
    friend bool operator<(const RequestId &a, const RequestId &b) { return a.m_value < b.m_value; }
    friend size_t qHash(const RequestId &id, size_t seed = 0) noexcept { return id.hash(seed); }

private:
    [[nodiscard]] size_t hash(size_t seed) const noexcept;

    std::variant<std::monostate, qint64, QString> m_value;
};

} // namespace fmb
