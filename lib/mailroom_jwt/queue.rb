# frozen_string_literal: true

module MailroomJWT
  # Where an accepted email goes. Every queue has one method:
  #
  #   queue.push(mailbox_type, raw_email) # => id (String)
  #
  # mailbox_type: "incoming_email" or "service_desk_email" (String or Symbol;
  # anything else raises Queue::UnknownMailbox). raw_email: the email as a
  # String, already UTF-8 (the InternalAPI converts it). push returns only
  # once the email is safely handed over (a Redis reply, a file renamed into
  # place after fsync); the id names it there (a Sidekiq jid, a spool path).
  #
  # It raises:
  # - Queue::TooLarge when the email is over the queue's size limit (the
  #   endpoint answers 400 with GitLab's "too large" message; not retried);
  # - Queue::Unavailable when the email could not be handed over now (Redis
  #   down, disk full...; the endpoint answers 503 and the sender retries).
  # Both are MailroomJWT::Error. An email is never half-queued: on any raise
  # it is not in the queue.
  #
  # Implementations: Queue::Sidekiq.new(redis_url:) for GitLab's Sidekiq
  # fleet, Queue::Spool.new(dir) for a local Maildir-style spool. Any object
  # with this #push can be given to InternalAPI.new(queue:).
  #
  # Note: inside `module MailroomJWT`, `Queue` is this module; Ruby's thread
  # queue is `Thread::Queue` there.
  module Queue
    class TooLarge < Error; end
    class Unavailable < Error; end
    class UnknownMailbox < Error; end

    # GitLab's workers and their queues, per mailbox type.
    WORKERS = {
      "incoming_email" => { "class" => "EmailReceiverWorker", "queue" => "email_receiver" }.freeze,
      "service_desk_email" => {
        "class" => "ServiceDeskEmailReceiverWorker", "queue" => "service_desk_email_receiver"
      }.freeze
    }.freeze

    autoload :Sidekiq, "mailroom_jwt/queue/sidekiq"
    autoload :Spool, "mailroom_jwt/queue/spool"

    def self.mailbox_type!(mailbox_type)
      type = mailbox_type.to_s
      return type if WORKERS.key?(type)

      raise UnknownMailbox, "unknown mailbox type #{Claims.describe(type)}"
    end

    def self.check_size!(raw_email, max_bytes)
      return if max_bytes.nil? || raw_email.bytesize <= max_bytes

      raise TooLarge, "email of #{raw_email.bytesize} bytes is over the limit of #{max_bytes} bytes"
    end
  end
end
