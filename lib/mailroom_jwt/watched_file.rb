# frozen_string_literal: true

module MailroomJWT
  # A value loaded from a file and loaded again when the file changes on disk
  # (device, inode, size, mtime or ctime), so that a rotated secret is picked
  # up without a restart. One stat(2) per #value; the loader runs only when
  # the file changed. A failed load is not cached: the next #value tries again.
  #
  #   watched = WatchedFile.new("/etc/gitlab/.secret") { |path| Key.read(path) }
  #   watched.value # => the Key, re-read after the file was replaced
  class WatchedFile
    attr_reader :path

    def initialize(path, &loader)
      raise ArgumentError, "WatchedFile needs a loader block" unless loader

      @path = path
      @loader = loader
      @cached = nil # [signature, value], replaced as a whole (safe between threads)
    end

    def value
      signature = self.class.signature(@path)
      cached = @cached
      return cached[1] if signature && cached && cached[0] == signature

      loaded = @loader.call(@path)
      @cached = signature ? [signature, loaded].freeze : nil
      loaded
    end

    # Forgets the cached value: the next #value loads the file again.
    def reset
      @cached = nil
    end

    def inspect
      "#<#{self.class.name} path=#{@path.inspect}>"
    end

    # nil when the file cannot be stat'ed (the loader then says why).
    def self.signature(path)
      st = File.stat(path)
      [st.dev, st.ino, st.size, st.mtime.to_r, st.ctime.to_r].freeze
    rescue SystemCallError, IOError
      nil
    end
  end
end
