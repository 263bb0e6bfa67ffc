# frozen_string_literal: true

require "securerandom"
require "socket"

module MailroomJWT
  module Queue
    # The embedded default: no server, each email one file in a Maildir-style
    # spool, one Maildir per mailbox type:
    #
    #   dir/incoming_email/{tmp,new,cur}/   dir/service_desk_email/{tmp,new,cur}/
    #
    # push writes the email to tmp/ (O_EXCL, mode 0600), fsyncs it, renames it
    # into new/ and fsyncs new/: a file in new/ is always complete and durable,
    # and many threads and processes may push at once (unique names: time,
    # pid, thread, counter, random, host). A consumer takes files from new/,
    # moves each to cur/ (rename) while it works, then deletes it.
    #
    #   spool = MailroomJWT::Queue::Spool.new("/var/spool/mailroom-jwt")
    #   spool.push("incoming_email", raw) # => "incoming_email/new/1764360000.M...."
    #   spool.pending("incoming_email")   # => paths in new/, oldest first
    #
    # Follows the Queue interface (see MailroomJWT::Queue): max_bytes gives
    # TooLarge; a full disk or any I/O error raises Unavailable and leaves no
    # file behind.
    class Spool
      SUBDIRS = %w[tmp new cur].freeze

      attr_reader :dir, :max_bytes

      def initialize(dir, max_bytes: nil, fsync: true)
        raise ArgumentError, "max_bytes must be a positive Integer or nil" unless max_bytes.nil? || (max_bytes.is_a?(Integer) && max_bytes.positive?)

        dir = dir.to_path if dir.respond_to?(:to_path)
        @dir = File.expand_path(dir)
        @max_bytes = max_bytes
        @fsync = fsync
        @counter = 0
        @counter_mutex = Mutex.new
        @host = Socket.gethostname.gsub(/[^A-Za-z0-9.-]/, "_")
        WORKERS.each_key { |type| SUBDIRS.each { |s| mkdir_p(File.join(@dir, type, s)) } }
      rescue SystemCallError => e
        raise Unavailable, "spool #{@dir} cannot be created (#{e.class.name.split('::').last})"
      end

      def push(mailbox_type, raw_email)
        type = Queue.mailbox_type!(mailbox_type)
        Queue.check_size!(raw_email, @max_bytes)

        name = unique_name
        tmp = File.join(@dir, type, "tmp", name)
        dest = File.join(@dir, type, "new", name)
        write_durably(tmp, raw_email)
        File.rename(tmp, dest)
        fsync_dir(File.join(@dir, type, "new"))
        File.join(type, "new", name)
      rescue SystemCallError, IOError => e
        File.unlink(tmp) if tmp && File.exist?(tmp)
        raise Unavailable, "spool write failed (#{e.class.name.split('::').last})"
      end

      # Complete emails waiting in new/ for mailbox_type, oldest first.
      def pending(mailbox_type)
        type = Queue.mailbox_type!(mailbox_type)
        Dir.children(File.join(@dir, type, "new")).sort.map { |n| File.join(@dir, type, "new", n) }
      end

      def inspect
        "#<#{self.class.name} dir=#{@dir.inspect} max_bytes=#{@max_bytes.inspect}>"
      end

      private

      def unique_name
        n = @counter_mutex.synchronize { @counter += 1 }
        now = Process.clock_gettime(Process::CLOCK_REALTIME, :microsecond)
        format("%<sec>d.M%<usec>06dP%<pid>dT%<tid>xQ%<n>dR%<rnd>s.%<host>s",
               sec: now / 1_000_000, usec: now % 1_000_000, pid: Process.pid,
               tid: Thread.current.object_id, n: n, rnd: SecureRandom.hex(8), host: @host)
      end

      def write_durably(path, data)
        File.open(path, File::WRONLY | File::CREAT | File::EXCL | File::BINARY, 0o600) do |f|
          f.write(data.b)
          f.flush
          f.fsync if @fsync
        end
      end

      def fsync_dir(path)
        return unless @fsync

        File.open(path, File::RDONLY) { |d| d.fsync }
      rescue Errno::EINVAL, Errno::EBADF
        nil # some filesystems cannot fsync a directory; the rename is still atomic
      end

      def mkdir_p(path)
        require "fileutils"
        FileUtils.mkdir_p(path, mode: 0o700)
      end
    end
  end
end
