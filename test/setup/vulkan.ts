// Software Vulkan for the GPU tests: where no Vulkan driver is named and Debian's
// chromium ships SwiftShader's, every test file (and each child process it starts,
// which inherits the environment) finds WebGPU through it. A machine with a real
// GPU names its driver (VK_DRIVER_FILES, …) or has one the loader finds itself.
import { existsSync } from 'node:fs'

/** SwiftShader's Vulkan driver manifest, as Debian's chromium installs it. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json'

const named = ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'VK_ADD_DRIVER_FILES'].some((k) => process.env[k])
if (!named && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD
