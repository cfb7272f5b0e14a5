#pragma once

#include <optional>

#include <QByteArray>

namespace fmb {

// The id of an SSE event a session writes, "<stream>-<seq>": the stream (0 is
// the standalone GET stream, others a POST's answer) and the event's number in
// that stream's EventBuffer. A client hands it back in Last-Event-ID to resume
// (MCP 2025-11-25, "Resumability and Redelivery"). Pure.
struct EventId {
    int stream = 0;
    qint64 seq = 0;

    [[nodiscard]] QByteArray toBytes() const;
    // Null unless value is "<stream>-<seq>", both decimal and not negative.
    [[nodiscard]] static std::optional<EventId> parse(QByteArrayView value);
    friend bool operator==(const EventId &, const EventId &) = default;
};

} // namespace fmb
