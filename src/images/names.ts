/** The local images Nimbus builds, by name: apart from their builders, so that naming one loads neither. */
export const MINIMAL_IMAGE = 'minimal';
export const DEBIAN_IMAGE = 'debian-12';
