module.exports = { ...require('../../jest.preset.js'), testTimeout: 90000 };
