// LoadedObject: one shared object the dynamic linker mapped for a plugin file, under a name no other loaded
// object has, so a rebuilt .so loads beside the old one instead of being answered with it.
//
// glibc's dlopen() does not map a file when a loaded object already has the name asked for, or the device and
// inode of the file: it returns that object. A reload asking for ".../echo.so" again would get the old build.
// So ringd loads through "/proc/<pid>/fd/N" of the file it opened (PluginFile), keeping N open while the object
// lives, which makes the name unique; and after each dlopen() it checks that the object's own name (its link
// map's l_name) is the one it asked for, i.e. that this call mapped it. If not, the inode was already loaded
// (a file rewritten in place, keeping its inode) or the name was left on an object by an earlier load: it
// loads a private copy of the file's bytes from a memfd instead, which has an inode of its own.
#pragma once

#include "plugin_host/plugin_file.hpp"

#include <string>

namespace ringd::plugin_host {

class LoadedObject {
public:
    // dlopen(RTLD_NOW | RTLD_LOCAL) of the file's current contents. Throws PluginLoadError naming its path.
    [[nodiscard]] static LoadedObject open(PluginFile file);
    ~LoadedObject();
    LoadedObject(LoadedObject&& other) noexcept;
    LoadedObject& operator=(LoadedObject&&) = delete;
    LoadedObject(const LoadedObject&) = delete;
    LoadedObject& operator=(const LoadedObject&) = delete;

    // dlsym(); nullptr if absent.
    [[nodiscard]] void* symbol(const char* name) const;
    // What was mapped: the path, the original file's identity, and whether the bytes came from a memory copy.
    [[nodiscard]] const PluginFile& file() const { return file_; }
    // The name the dynamic linker knows it by ("/proc/<pid>/fd/N"): what debuggers and sanitizers print.
    [[nodiscard]] const std::string& mapped_as() const { return name_; }
    // The NT_GNU_BUILD_ID note of the mapped object in hex, or "none" if it has none.
    [[nodiscard]] const std::string& build_id() const { return build_id_; }

    // dlclose(); true if the object then left the process. One that stays (it has STB_GNU_UNIQUE symbols, or was
    // linked with -z nodelete) keeps its descriptor open for good, so that its name can never lead the dynamic
    // linker from another file to it. Done by the destructor if not called.
    [[nodiscard]] bool unload() noexcept;
    // True if the file the object is mapped from has been written to since it was loaded (its size or mtime
    // changed: cp onto it, not install or mv, which leave it alone and make a new file). Then its code and
    // relocated data are no longer what was loaded: truncating a file drops even the private copies of its
    // pages from every mapping. Never true of a memory copy.
    [[nodiscard]] bool file_rewritten() const noexcept;
    // Leaves the object mapped and its descriptor open for good, without dlclose(), which would run the
    // destructors of a rewritten object.
    void abandon() noexcept;

private:
    LoadedObject(PluginFile file, std::string name, void* handle);
    PluginFile file_;
    std::string name_;
    void* handle_;
    std::string build_id_;
};

// The hex NT_GNU_BUILD_ID in a PT_NOTE segment's bytes (notes aligned to `align`), or "" if there is none.
[[nodiscard]] std::string build_id_in_notes(const unsigned char* notes, std::size_t size, std::size_t align);

} // namespace ringd::plugin_host
