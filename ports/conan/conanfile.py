"""Conan 2 recipe for mproc, built from this checkout:
    conan create ports/conan --build=missing
"""
import os

from conan import ConanFile
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy


class MprocConan(ConanFile):
    name = "mproc"
    version = "0.1.0"
    description = ("Python's multiprocessing for C: Process, Pool, Pipe, "
                   "Queue, shared memory and locks on POSIX and Windows")
    topics = ("multiprocessing", "ipc", "process", "shared-memory")
    settings = "os", "arch", "compiler", "build_type"
    options = {"shared": [True, False], "fPIC": [True, False]}
    default_options = {"shared": False, "fPIC": True}

    def export_sources(self):
        root = os.path.join(self.recipe_folder, "..", "..")
        for pattern in ("CMakeLists.txt", "api/*", "common/*", "posix/*",
                        "win32/*", "cmake/*.cmake", "cmake/*.in", "README.md"):
            copy(self, pattern, root, self.export_sources_folder)

    def config_options(self):
        if self.settings.os == "Windows":
            del self.options.fPIC

    def configure(self):
        self.settings.rm_safe("compiler.libcxx")
        self.settings.rm_safe("compiler.cppstd")

    def layout(self):
        cmake_layout(self)

    def requirements(self):
        self.requires("apr/1.7.4")
        if self.settings.os != "Windows":
            self.requires("openssl/[>=3 <4]")

    def generate(self):
        CMakeDeps(self).generate()
        tc = CMakeToolchain(self)
        for opt in ("TESTS", "EXAMPLES", "BENCH"):
            tc.variables[f"MPROC_BUILD_{opt}"] = False
        tc.variables["MPROC_WERROR"] = False
        tc.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        CMake(self).install()

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "mproc")
        self.cpp_info.set_property("cmake_target_name", "mproc::mproc")
        self.cpp_info.set_property("pkg_config_name", "mproc")
        self.cpp_info.libs = ["mproc"]
        if not self.options.shared:
            self.cpp_info.defines = ["MP_STATIC"]
        if self.settings.os == "Linux":
            self.cpp_info.system_libs = ["pthread", "dl", "rt"]
        elif self.settings.os == "Windows":
            self.cpp_info.system_libs = ["bcrypt", "advapi32", "ws2_32"]
